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
        return migrator
    }
}
