#!/usr/bin/env python3
"""Makes hands-occlusion.jpg: input | --occlusion none | hands (with the hand hulls from the manifest) | hands,
frames 16 and 2 of clip.mkv (= frames 136 and 122 of two_people_stage.mp4), cropped and doubled. Run in a
folder holding the three files, made with the tests' fixture workspace and model:
  ffmpeg -i two_people_stage.mp4 -vf "select=between(n\\,120\\,179)" -fps_mode passthrough -an -c:v ffv1 clip.mkv
  swap --model Models/m/model.json --target "Lin-Manuel Miranda" --codec ffv1 --occlusion none  -o out-none.mkv  --manifest out-none.json clip.mkv
  swap --model Models/m/model.json --target "Lin-Manuel Miranda" --codec ffv1 --occlusion hands -o out-hands.mkv --manifest out-hands.json clip.mkv
Needs numpy and opencv-python-headless (a venv under /tmp)."""
import json, subprocess, numpy as np, cv2
def frame(p, i):
    raw = subprocess.run(['ffmpeg','-v','error','-i',p,'-vf',f'select=eq(n\\,{i})','-frames:v','1','-f','rawvideo','-pix_fmt','rgb24','-'],capture_output=True).stdout
    return np.frombuffer(raw,np.uint8).reshape(360,640,3).copy()
m = json.load(open('out-hands.json'))['outputs'][0]['frames']
rows=[]
for i,(x,y) in ((16,(120,10)),(2,(150,20))):
    tiles=[]
    for p in ('clip.mkv','out-none.mkv','out-hands.mkv'):
        f = frame(p,i)
        if p=='out-hands.mkv':
            g = f.copy()
            for face in m[i]['faces']:
                for occ in face.get('occluders') or []:
                    pts=np.round(np.array(occ).reshape(-1,2)).astype(np.int32); cv2.polylines(g,[pts],True,(0,255,0),1)
            tiles.append(g[y:y+160, x:x+160])
        tiles.append(f[y:y+160, x:x+160])
    rows.append(np.concatenate(tiles,1))
img=np.concatenate(rows,0); img=cv2.resize(img,None,fx=2,fy=2,interpolation=cv2.INTER_NEAREST)
cv2.imwrite('hands-occlusion.jpg', cv2.cvtColor(img,cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
