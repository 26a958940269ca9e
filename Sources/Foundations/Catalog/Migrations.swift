import GRDB

/// The catalog's schema history. Shipped migrations never change: new tables and columns come as new,
/// later-named migrations. `docs/catalog.md` describes the resulting tables.
enum CatalogMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-sources-frames") { db in
            try db.execute(sql: """
                CREATE TABLE sources (
                    id INTEGER PRIMARY KEY,
                    sha256 TEXT NOT NULL UNIQUE,
                    path TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('video', 'images')),
                    bytes INTEGER NOT NULL,
                    modified_at REAL,
                    container TEXT,
                    codec TEXT,
                    width INTEGER,
                    height INTEGER,
                    rotation INTEGER NOT NULL DEFAULT 0,
                    frame_rate REAL,
                    duration_seconds REAL,
                    frame_count INTEGER,
                    has_audio INTEGER NOT NULL DEFAULT 0,
                    added_at TEXT NOT NULL
                );
                CREATE TABLE frames (
                    id INTEGER PRIMARY KEY,
                    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                    frame_number INTEGER NOT NULL,
                    pts INTEGER NOT NULL,
                    seconds REAL NOT NULL,
                    path TEXT NOT NULL UNIQUE,
                    format TEXT NOT NULL,
                    quality INTEGER NOT NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    created_at TEXT NOT NULL
                );
                CREATE INDEX frames_by_source ON frames(source_id, pts);
                CREATE TABLE extractions (
                    id INTEGER PRIMARY KEY,
                    key TEXT NOT NULL UNIQUE,
                    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                    parameters TEXT NOT NULL,
                    shard TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
                    frames_written INTEGER NOT NULL DEFAULT 0,
                    damage TEXT NOT NULL DEFAULT '[]',
                    started_at TEXT NOT NULL,
                    finished_at TEXT
                );
                CREATE TABLE extraction_frames (
                    extraction_id INTEGER NOT NULL REFERENCES extractions(id) ON DELETE CASCADE,
                    frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
                    PRIMARY KEY (extraction_id, frame_id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-detections-faces-tracks") { db in
            try db.execute(sql: """
                CREATE TABLE detections (
                    id INTEGER PRIMARY KEY,
                    key TEXT NOT NULL UNIQUE,
                    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                    parameters TEXT NOT NULL,
                    shard TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
                    frames_done INTEGER NOT NULL DEFAULT 0,
                    faces_found INTEGER NOT NULL DEFAULT 0,
                    damage TEXT NOT NULL DEFAULT '[]',
                    started_at TEXT NOT NULL,
                    finished_at TEXT
                );
                CREATE TABLE detection_frames (
                    detection_id INTEGER NOT NULL REFERENCES detections(id) ON DELETE CASCADE,
                    sequence INTEGER NOT NULL,
                    frame_number INTEGER NOT NULL,
                    pts INTEGER NOT NULL,
                    seconds REAL NOT NULL,
                    frame_id INTEGER REFERENCES frames(id) ON DELETE SET NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    scene_cut INTEGER NOT NULL DEFAULT 0,
                    faces INTEGER NOT NULL,
                    PRIMARY KEY (detection_id, sequence)
                ) WITHOUT ROWID;
                CREATE TABLE tracks (
                    id INTEGER PRIMARY KEY,
                    detection_id INTEGER NOT NULL REFERENCES detections(id) ON DELETE CASCADE,
                    number INTEGER NOT NULL,
                    UNIQUE (detection_id, number)
                );
                CREATE TABLE faces (
                    id INTEGER PRIMARY KEY,
                    detection_id INTEGER NOT NULL REFERENCES detections(id) ON DELETE CASCADE,
                    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                    frame_id INTEGER REFERENCES frames(id) ON DELETE SET NULL,
                    sequence INTEGER NOT NULL,
                    frame_number INTEGER NOT NULL,
                    pts INTEGER NOT NULL,
                    seconds REAL NOT NULL,
                    face_index INTEGER NOT NULL,
                    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
                    crop_path TEXT NOT NULL UNIQUE,
                    crop_sha256 TEXT NOT NULL,
                    mask_path TEXT,
                    box_x REAL NOT NULL, box_y REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
                    score REAL NOT NULL,
                    presence REAL NOT NULL,
                    face_size REAL NOT NULL,
                    yaw REAL NOT NULL, pitch REAL NOT NULL, roll REAL NOT NULL,
                    mouth_openness REAL NOT NULL, left_eye_openness REAL NOT NULL, right_eye_openness REAL NOT NULL,
                    smile_width REAL NOT NULL, brow_raise REAL NOT NULL,
                    sharpness REAL NOT NULL, brightness REAL NOT NULL, contrast REAL NOT NULL,
                    rotation INTEGER NOT NULL DEFAULT 0,
                    matrix TEXT NOT NULL,
                    keypoints BLOB NOT NULL,
                    mesh BLOB NOT NULL,
                    points5 BLOB NOT NULL,
                    created_at TEXT NOT NULL,
                    UNIQUE (detection_id, sequence, face_index)
                );
                CREATE INDEX faces_by_source ON faces(source_id, pts);
                CREATE INDEX faces_by_track ON faces(track_id);
                """)
        }
        IdentityTables.register(in: &migrator)
        // Added by `dedupe`: dataset versions, their sources, faces and drops (Sources/Catalog/CatalogDatasets.swift).
        migrator.registerMigration("v4-datasets") { db in try DatasetTables.create(db) }
        registerTrainingRuns(&migrator)
        // Added by `swap`: one row per swapped output (Sources/Foundations/Catalog/CatalogSwaps.swift).
        registerSwaps(&migrator)
        // Added by `score`: per-run and per-face swap quality scores (Sources/Foundations/Catalog/CatalogScores.swift).
        registerScores(&migrator)
        return migrator
    }
}
