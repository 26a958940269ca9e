import GRDB

/// Migration `v3-identities-labels-clusters`: enrolled people, face descriptors, labelling runs and
/// clusters (`identify`). Shipped migrations never change; `docs/catalog.md` describes the tables.
enum IdentityTables {
    static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-identities-labels-clusters") { db in
            try db.execute(sql: """
                CREATE TABLE identities (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    consent TEXT NOT NULL DEFAULT '',
                    centroid BLOB NOT NULL,
                    reference_count INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE TABLE identity_references (
                    id INTEGER PRIMARY KEY,
                    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
                    origin TEXT NOT NULL CHECK (origin IN ('image', 'faces', 'cluster')),
                    path TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    face_id INTEGER,
                    embedding BLOB NOT NULL,
                    added_at TEXT NOT NULL,
                    UNIQUE (identity_id, sha256)
                );
                CREATE TABLE face_embeddings (
                    crop_sha256 TEXT PRIMARY KEY,
                    embedding BLOB NOT NULL,
                    created_at TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE labelings (
                    id INTEGER PRIMARY KEY,
                    manifest_path TEXT NOT NULL,
                    manifest_sha256 TEXT NOT NULL,
                    output_path TEXT,
                    threshold REAL NOT NULL,
                    rule TEXT NOT NULL,
                    identities TEXT NOT NULL,
                    faces INTEGER NOT NULL,
                    unknown INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE face_labels (
                    labeling_id INTEGER NOT NULL REFERENCES labelings(id) ON DELETE CASCADE,
                    face_id INTEGER NOT NULL,
                    track INTEGER NOT NULL,
                    crop_sha256 TEXT NOT NULL,
                    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
                    identity_name TEXT,
                    distance REAL,
                    nearest_name TEXT,
                    nearest_distance REAL,
                    face_decision TEXT,
                    decided_by TEXT NOT NULL CHECK (decided_by IN ('face', 'track')),
                    PRIMARY KEY (labeling_id, face_id)
                ) WITHOUT ROWID;
                CREATE INDEX face_labels_by_face ON face_labels(face_id);
                CREATE TABLE clusterings (
                    id INTEGER PRIMARY KEY,
                    parameters TEXT NOT NULL,
                    manifests TEXT NOT NULL,
                    faces INTEGER NOT NULL,
                    clusters INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE clusters (
                    id INTEGER PRIMARY KEY,
                    clustering_id INTEGER NOT NULL REFERENCES clusterings(id) ON DELETE CASCADE,
                    number INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    sheet_path TEXT,
                    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
                    UNIQUE (clustering_id, number)
                );
                CREATE TABLE cluster_members (
                    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
                    face_id INTEGER NOT NULL,
                    crop_path TEXT NOT NULL,
                    crop_sha256 TEXT NOT NULL,
                    PRIMARY KEY (cluster_id, face_id)
                ) WITHOUT ROWID;
                """)
        }
    }
}
