#ifndef FACET_CFFMPEG_SHIM_H
#define FACET_CFFMPEG_SHIM_H
// The one C surface of FFmpeg that Facet uses. Imported by the Media module only.
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/dict.h>
#include <libavutil/log.h>

// Function-like macros Swift cannot import.
static inline int facet_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int facet_averror_eof(void) { return AVERROR_EOF; }
static inline int facet_averror_enospc(void) { return AVERROR(ENOSPC); }
static inline int facet_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int64_t facet_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int facet_ff_qp2lambda(void) { return FF_QP2LAMBDA; }
static inline int facet_frame_is_corrupt(const AVFrame *f) { return (f->flags & AV_FRAME_FLAG_CORRUPT) != 0 || f->decode_error_flags != 0; }
#endif
