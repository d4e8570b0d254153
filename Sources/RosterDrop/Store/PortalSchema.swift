/// The portal's schema, one step per migration, in the pipeline's shared dialect: SQLite
/// runs each step as written (`SQLiteStore.migrator`), PostgreSQL through
/// `PostgresSQL.translate` (`PostgresSchema.migrate`), so a new step is written once. A step
/// never changes once released.
enum PortalSchema {
    struct Step {
        let id: String
        let sql: String
        /// Values for the step's `?` placeholders, drawn when it runs.
        var arguments: @Sendable () -> StoreArguments = { [] }
    }

    static let steps: [Step] = [
        Step(id: "v1-portal", sql: """
            CREATE TABLE organisations (
                id TEXT PRIMARY KEY,
                integration_started_at TEXT
            );
            CREATE TABLE school_units (
                code TEXT PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations(id)
            );
            CREATE TABLE accounts (
                id INTEGER PRIMARY KEY,
                organisation_id TEXT REFERENCES organisations(id),
                person_id TEXT UNIQUE,
                email TEXT,
                given_name TEXT,
                family_name TEXT,
                role TEXT,
                school_unit_code TEXT,
                grade TEXT,
                eppn TEXT,
                identity_source TEXT NOT NULL DEFAULT 'portal',
                linked_at TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE INDEX accounts_by_organisation ON accounts(organisation_id, identity_source);
            CREATE INDEX accounts_by_eppn ON accounts(eppn);
            CREATE TABLE groups (
                id INTEGER PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations(id),
                external_id TEXT,
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                school_unit_code TEXT,
                source TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX groups_by_external_id ON groups(organisation_id, source, external_id);
            CREATE TABLE memberships (
                group_id INTEGER NOT NULL REFERENCES groups(id),
                account_id INTEGER NOT NULL REFERENCES accounts(id),
                PRIMARY KEY (group_id, account_id)
            );
            CREATE INDEX memberships_by_account ON memberships(account_id);
            CREATE TABLE products (
                product_id TEXT PRIMARY KEY,
                title TEXT NOT NULL
            );
            CREATE TABLE licenses (
                id INTEGER PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations(id),
                order_id TEXT,
                account_id INTEGER NOT NULL REFERENCES accounts(id),
                product_id TEXT NOT NULL,
                license_type TEXT NOT NULL,
                valid_from TEXT,
                valid_to TEXT,
                source TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX licenses_by_order ON licenses(organisation_id, order_id);
            CREATE INDEX licenses_by_account ON licenses(account_id);
            """),
        Step(id: "v1-ledger", sql: """
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                dry_run INTEGER NOT NULL,
                outcome TEXT
            );
            CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs(id),
                organisation_id TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                content_sha256 TEXT,
                outcome TEXT NOT NULL,
                received_at TEXT NOT NULL,
                -- Set once the receipt is published: an applied delivery without it was
                -- committed but never answered (a crash in between), and is answered again.
                answered_at TEXT
            );
            CREATE INDEX deliveries_by_organisation ON deliveries(organisation_id, timestamp);
            CREATE TABLE delivery_files (
                delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                file TEXT NOT NULL,
                sha256 TEXT,
                rows INTEGER
            );
            CREATE TABLE delivery_counts (
                delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                entity TEXT NOT NULL,
                received INTEGER NOT NULL,
                accepted INTEGER NOT NULL,
                rejected INTEGER NOT NULL,
                created INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                removed INTEGER NOT NULL
            );
            -- Findings keep where and which rule, never the offending value: the value
            -- may be personal data and lives only in the reject report.
            CREATE TABLE findings (
                delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
                file TEXT NOT NULL,
                line INTEGER NOT NULL,
                column_name TEXT NOT NULL,
                rule TEXT NOT NULL,
                detail TEXT NOT NULL
            );
            CREATE INDEX findings_by_delivery ON findings(delivery_id);
            """),
        // What the job last wrote for each record, as a keyed hash of the delivered row
        // (`DeliveryIndex`), so a delivery's work follows its changes. The hash is not
        // indexed: its values are random, so an index would cost a first load dearly, and
        // it is only ever read by scanning an organisation's records. Memberships become
        // a WITHOUT ROWID table: one B-tree instead of two, and the hash read in key order.
        Step(id: "v2-source-hash", sql: """
            ALTER TABLE accounts ADD COLUMN source_hash INTEGER;
            ALTER TABLE licenses ADD COLUMN source_hash INTEGER;
            CREATE INDEX licenses_by_organisation ON licenses(organisation_id, source);
            CREATE TABLE memberships_v2 (
                group_id INTEGER NOT NULL REFERENCES groups(id),
                account_id INTEGER NOT NULL REFERENCES accounts(id),
                source_hash INTEGER,
                PRIMARY KEY (group_id, account_id)
            ) WITHOUT ROWID;
            INSERT INTO memberships_v2 (group_id, account_id) SELECT group_id, account_id FROM memberships;
            DROP TABLE memberships;
            ALTER TABLE memberships_v2 RENAME TO memberships;
            CREATE INDEX memberships_by_account ON memberships(account_id);
            CREATE TABLE job_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO job_settings (name, value) VALUES ('row_hash_key', ?);
            """, arguments: { [SipKey.random().hex] }),
        // For sources without a manifest: when each inbox file was first seen with its
        // current size and mtime, by the job's clock (a server's clock may be off).
        Step(id: "v3-inbox-observations", sql: """
            CREATE TABLE inbox_observations (
                organisation_id TEXT NOT NULL,
                name TEXT NOT NULL,
                size INTEGER NOT NULL,
                modified REAL NOT NULL,
                first_seen REAL NOT NULL,
                PRIMARY KEY (organisation_id, name)
            )
            """),
        // An organisation's calendar (integration start, clean-up), holds, the answers
        // waiting to be published, and what retention needs. Personal data never enters
        // these tables, except an answer's files between its commit and its publishing.
        Step(id: "v4-lifecycle", sql: """
            ALTER TABLE organisations ADD COLUMN integration_start TEXT;
            ALTER TABLE organisations ADD COLUMN cleanup_done_at TEXT;
            CREATE TABLE integration_cohort (
                organisation_id TEXT NOT NULL,
                account_id INTEGER NOT NULL,
                PRIMARY KEY (organisation_id, account_id)
            ) WITHOUT ROWID;
            CREATE TABLE calendar_events (
                id INTEGER PRIMARY KEY,
                run_id INTEGER,
                organisation_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                happened_at TEXT NOT NULL,
                accounts INTEGER NOT NULL DEFAULT 0,
                groups INTEGER NOT NULL DEFAULT 0,
                memberships INTEGER NOT NULL DEFAULT 0,
                licenses INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX calendar_events_by_organisation ON calendar_events(organisation_id, kind);
            CREATE TABLE removal_log (
                organisation_id TEXT NOT NULL,
                account_id INTEGER NOT NULL,
                person_id TEXT,
                removed_at TEXT NOT NULL,
                reason TEXT NOT NULL,
                delivery_id INTEGER
            );
            CREATE INDEX removal_log_by_time ON removal_log(removed_at);
            CREATE TABLE holds (
                delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id),
                organisation_id TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                state TEXT NOT NULL,
                held_at TEXT NOT NULL,
                decided_at TEXT,
                closed_at TEXT
            );
            CREATE INDEX holds_by_organisation ON holds(organisation_id, state);
            CREATE TABLE hold_figures (
                delivery_id INTEGER NOT NULL REFERENCES holds(delivery_id),
                entity TEXT NOT NULL,
                removing INTEGER NOT NULL,
                current INTEGER NOT NULL,
                limit_percent REAL NOT NULL,
                PRIMARY KEY (delivery_id, entity)
            );
            CREATE TABLE answers (
                id INTEGER PRIMARY KEY,
                organisation_id TEXT NOT NULL,
                delivery_id INTEGER,
                kind TEXT NOT NULL,
                created_at TEXT NOT NULL,
                published_at TEXT,
                archive TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX answers_pending ON answers(organisation_id) WHERE published_at IS NULL;
            CREATE TABLE answer_files (
                answer_id INTEGER NOT NULL REFERENCES answers(id),
                position INTEGER NOT NULL,
                name TEXT NOT NULL,
                content BLOB,
                PRIMARY KEY (answer_id, position)
            );
            CREATE TABLE drop_placements (
                organisation_id TEXT NOT NULL,
                area TEXT NOT NULL,
                name TEXT NOT NULL,
                placed_at TEXT NOT NULL,
                PRIMARY KEY (organisation_id, area, name)
            ) WITHOUT ROWID;
            CREATE TABLE notices (
                organisation_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                day TEXT NOT NULL,
                digest TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (organisation_id, kind)
            ) WITHOUT ROWID;
            -- Holders of licenses that ended, until the day's deliveries have had their say.
            CREATE TABLE expiry_pending (
                organisation_id TEXT NOT NULL,
                account_id INTEGER NOT NULL,
                PRIMARY KEY (organisation_id, account_id)
            ) WITHOUT ROWID;
            -- A finding that only warns: its row was kept (applied_with_warnings).
            ALTER TABLE findings ADD COLUMN warning INTEGER NOT NULL DEFAULT 0;
            -- An operator's request to take a delivery again (after a mapping fix).
            CREATE TABLE reprocess_requests (
                organisation_id TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                requested_at TEXT NOT NULL,
                taken_by INTEGER REFERENCES deliveries(id)
            );
            -- Deliveries committed by an older build but never answered cannot be answered
            -- with their values any more; they count as answered.
            UPDATE deliveries SET answered_at = received_at WHERE answered_at IS NULL;
            """),
        // What happened to each account, for `rosterdrop history`: ids and field names,
        // never values; purged with the removal log. A finding names the person of its
        // row when the portal already knew that id. Each organisation's last run, for
        // `rosterdrop status` and the metrics.
        Step(id: "v5-support", sql: """
            CREATE TABLE change_log (
                id INTEGER PRIMARY KEY,
                organisation_id TEXT NOT NULL,
                account_id INTEGER NOT NULL,
                delivery_id INTEGER,
                happened_at TEXT NOT NULL,
                event TEXT NOT NULL,
                ref TEXT,
                detail TEXT,
                reason TEXT
            );
            CREATE INDEX change_log_by_account ON change_log(account_id);
            CREATE INDEX change_log_by_time ON change_log(organisation_id, happened_at);
            ALTER TABLE findings ADD COLUMN person_id TEXT;
            -- The delivery that created an account, kept on the account (and in its removal's
            -- record) rather than as a log row: a national first load creates millions.
            ALTER TABLE accounts ADD COLUMN created_by_delivery INTEGER;
            ALTER TABLE removal_log ADD COLUMN created_by_delivery INTEGER;
            CREATE INDEX findings_by_person ON findings(person_id) WHERE person_id IS NOT NULL;
            CREATE TABLE organisation_runs (
                organisation_id TEXT PRIMARY KEY,
                last_run_at TEXT NOT NULL,
                last_run_ok INTEGER NOT NULL,
                last_error TEXT,
                last_success_at TEXT,
                last_duration_seconds REAL NOT NULL
            );
            """),
    ]
}
