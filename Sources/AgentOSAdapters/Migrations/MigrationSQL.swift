/// The schema, as versioned SQL. Never edit an applied migration: add a new one.
/// Names and meanings: the design notes' CONTRACT.md (../shared/design), the contract the console shares with AgentOS.
enum MigrationSQL {
    /// The AgentOS tables the console reads and acts on. A real deployment already has them;
    /// `IF NOT EXISTS` keeps the migration safe there.
    static let agentOSTables = """
        CREATE TABLE IF NOT EXISTS queues (
            name            text PRIMARY KEY,
            stage           text,
            paused          boolean NOT NULL DEFAULT false,
            rate_limit      integer CHECK (rate_limit IS NULL OR rate_limit >= 0),
            priority_steps  integer[] NOT NULL DEFAULT '{0,3,6,9}',
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE IF NOT EXISTS jobs (
            id              uuid PRIMARY KEY,
            name            text NOT NULL DEFAULT '',
            pipeline        text NOT NULL DEFAULT 'video',
            stage           text NOT NULL,
            queue           text NOT NULL,
            status          text NOT NULL CHECK (status IN ('pending','queued','running','retrying','completed','failed','cancelled')),
            priority        integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
            progress        double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
            attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts    integer NOT NULL DEFAULT 3,
            worker_id       text,
            owner           text NOT NULL DEFAULT 'system',
            source_url      text,
            payload         jsonb NOT NULL DEFAULT '{}',
            error           text,
            error_class     text,
            traceback       text,
            celery_task_id  text,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            started_at      timestamptz,
            finished_at     timestamptz,
            eta             timestamptz
        );
        CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status);
        CREATE INDEX IF NOT EXISTS jobs_queue_status_idx ON jobs (queue, status);
        CREATE INDEX IF NOT EXISTS jobs_updated_idx ON jobs (updated_at DESC);
        CREATE INDEX IF NOT EXISTS jobs_owner_idx ON jobs (owner);
        CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

        CREATE TABLE IF NOT EXISTS job_events (
            id          bigserial PRIMARY KEY,
            job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            ts          timestamptz NOT NULL DEFAULT now(),
            type        text NOT NULL,
            stage       text,
            status      text,
            worker_id   text,
            message     text,
            data        jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS job_events_job_idx ON job_events (job_id, id);
        CREATE INDEX IF NOT EXISTS job_events_ts_idx ON job_events (ts);

        CREATE TABLE IF NOT EXISTS workers (
            id              text PRIMARY KEY,
            hostname        text NOT NULL DEFAULT '',
            stage           text NOT NULL,
            queues          text[] NOT NULL DEFAULT '{}',
            status          text NOT NULL CHECK (status IN ('starting','online','paused','draining','restarting','stopped','offline')),
            desired_state   text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running','paused','drained','stopped')),
            concurrency     integer NOT NULL DEFAULT 1 CHECK (concurrency >= 0),
            autoscale_min   integer,
            autoscale_max   integer,
            active          integer NOT NULL DEFAULT 0,
            processed       bigint NOT NULL DEFAULT 0,
            failed          bigint NOT NULL DEFAULT 0,
            load            double precision NOT NULL DEFAULT 0,
            rss_bytes       bigint NOT NULL DEFAULT 0,
            version         text NOT NULL DEFAULT '',
            pid             integer,
            rate_limits     jsonb NOT NULL DEFAULT '{}',
            time_limits     jsonb NOT NULL DEFAULT '{}',
            started_at      timestamptz,
            last_heartbeat  timestamptz,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS workers_stage_idx ON workers (stage);

        CREATE TABLE IF NOT EXISTS managers (
            id              text PRIMARY KEY,
            kind            text NOT NULL,
            status          text NOT NULL CHECK (status IN ('running','paused','stopped','failed','starting')),
            enabled         boolean NOT NULL DEFAULT true,
            schedule        text NOT NULL DEFAULT '',
            concurrency     integer NOT NULL DEFAULT 1 CHECK (concurrency >= 1),
            last_run_at     timestamptz,
            next_run_at     timestamptz,
            last_result     text,
            last_error      text,
            runs            bigint NOT NULL DEFAULT 0,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            updated_by      text
        );

        CREATE TABLE IF NOT EXISTS logs (
            id          bigserial PRIMARY KEY,
            ts          timestamptz NOT NULL DEFAULT now(),
            level       text NOT NULL CHECK (level IN ('debug','info','warning','error','critical')),
            source      text NOT NULL,
            message     text NOT NULL,
            job_id      uuid,
            worker_id   text,
            context     jsonb NOT NULL DEFAULT '{}',
            acked       boolean NOT NULL DEFAULT false
        );
        CREATE INDEX IF NOT EXISTS logs_ts_idx ON logs (ts DESC);
        CREATE INDEX IF NOT EXISTS logs_level_ts_idx ON logs (level, ts DESC);
        CREATE INDEX IF NOT EXISTS logs_source_ts_idx ON logs (source, ts DESC);

        CREATE TABLE IF NOT EXISTS config (
            key             text PRIMARY KEY,
            type            text NOT NULL CHECK (type IN ('int','float','bool','string','enum','duration','cron')),
            value           jsonb NOT NULL,
            default_value   jsonb NOT NULL,
            constraints     jsonb NOT NULL DEFAULT '{}',
            description     text NOT NULL DEFAULT '',
            version         integer NOT NULL DEFAULT 1,
            locked          boolean NOT NULL DEFAULT false,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            updated_by      text NOT NULL DEFAULT 'system'
        );

        CREATE TABLE IF NOT EXISTS config_history (
            id          bigserial PRIMARY KEY,
            key         text NOT NULL,
            version     integer NOT NULL,
            old_value   jsonb,
            new_value   jsonb NOT NULL,
            changed_by  text NOT NULL,
            changed_at  timestamptz NOT NULL DEFAULT now(),
            reason      text,
            UNIQUE (key, version)
        );

        CREATE TABLE IF NOT EXISTS alerts (
            id              bigserial PRIMARY KEY,
            ts              timestamptz NOT NULL DEFAULT now(),
            severity        text NOT NULL CHECK (severity IN ('info','warning','error','critical')),
            source          text NOT NULL,
            title           text NOT NULL,
            message         text NOT NULL DEFAULT '',
            status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active','acked','silenced','resolved')),
            acked_by        text,
            acked_at        timestamptz,
            silenced_until  timestamptz,
            rule_id         bigint
        );
        CREATE INDEX IF NOT EXISTS alerts_status_idx ON alerts (status, ts DESC);

        CREATE TABLE IF NOT EXISTS stats_minutely (
            minute      timestamptz NOT NULL,
            stage       text NOT NULL,
            completed   integer NOT NULL DEFAULT 0,
            failed      integer NOT NULL DEFAULT 0,
            retried     integer NOT NULL DEFAULT 0,
            p50_ms      double precision,
            p95_ms      double precision,
            PRIMARY KEY (minute, stage)
        );
        """

    /// The console's own tables (V5).
    static let consoleTables = """
        CREATE TABLE IF NOT EXISTS audit_logs (
            seq                 bigint PRIMARY KEY,
            id                  uuid NOT NULL UNIQUE,
            timestamp           timestamptz NOT NULL,
            user_id             varchar(50) NOT NULL,
            acting_as           varchar(50),
            role                text NOT NULL,
            action              varchar(100) NOT NULL,
            phase               text NOT NULL CHECK (phase IN ('intent','outcome','denied')),
            outcome             text,
            request_id          uuid NOT NULL,
            idempotency_key     text,
            session_id          text,
            target              text,
            reason              text,
            payload             jsonb,
            result              jsonb,
            ip_address          inet,
            user_agent          text,
            trace_id            varchar(100),
            duration_ms         integer,
            security_context    jsonb,
            prev_hash           text NOT NULL,
            hash                text NOT NULL UNIQUE
        );
        CREATE INDEX IF NOT EXISTS audit_logs_request_idx ON audit_logs (request_id);
        CREATE INDEX IF NOT EXISTS audit_logs_user_ts_idx ON audit_logs (user_id, timestamp DESC);
        CREATE INDEX IF NOT EXISTS audit_logs_action_ts_idx ON audit_logs (action, timestamp DESC);

        CREATE TABLE IF NOT EXISTS action_history (
            id              bigserial PRIMARY KEY,
            request_id      uuid NOT NULL,
            action          text NOT NULL,
            user_id         text NOT NULL,
            started_at      timestamptz NOT NULL,
            outcome         text NOT NULL,
            total_ms        double precision NOT NULL,
            timings         jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS action_history_started_idx ON action_history (started_at DESC);
        CREATE INDEX IF NOT EXISTS action_history_action_idx ON action_history (action, started_at DESC);

        CREATE TABLE IF NOT EXISTS user_permissions (
            user_id             text PRIMARY KEY,
            role                text NOT NULL CHECK (role IN ('admin','operator','supervisor','user','readonly')),
            extra_permissions   text[] NOT NULL DEFAULT '{}',
            updated_at          timestamptz NOT NULL DEFAULT now(),
            updated_by          text
        );

        CREATE TABLE IF NOT EXISTS idempotency_results (
            user_id         text NOT NULL,
            action          text NOT NULL,
            key             text NOT NULL,
            fingerprint     text NOT NULL,
            request_id      uuid NOT NULL,
            status          text NOT NULL CHECK (status IN ('done','failed')),
            result          jsonb NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            expires_at      timestamptz NOT NULL,
            PRIMARY KEY (user_id, action, key)
        );
        CREATE INDEX IF NOT EXISTS idempotency_results_expires_idx ON idempotency_results (expires_at);
        """

    /// audit_logs is append-only: triggers refuse UPDATE, DELETE and TRUNCATE for every role
    /// (TRUNCATE needs its own statement-level trigger), and the console role may only
    /// INSERT and SELECT.
    static let auditAppendOnly = """
        CREATE OR REPLACE FUNCTION audit_logs_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'audit rows can only be inserted; use agentos audit verify to check the chain';
        END;
        $$;

        DROP TRIGGER IF EXISTS audit_logs_no_update ON audit_logs;
        CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
            FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
        DROP TRIGGER IF EXISTS audit_logs_no_delete ON audit_logs;
        CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
            FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
        DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs;
        CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
            FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change();

        REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM PUBLIC;

        -- The role consoles should log in as (or be granted): full use of the AgentOS tables,
        -- insert-only on the audit trail. Created only where the migrating role may create roles.
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentos_console') THEN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
                    CREATE ROLE agentos_console NOLOGIN;
                END IF;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentos_console') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON queues, jobs, job_events, workers, managers, logs,
                    config, config_history, alerts, stats_minutely, action_history, user_permissions,
                    idempotency_results TO agentos_console;
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO agentos_console;
                GRANT SELECT, INSERT ON audit_logs TO agentos_console;
                REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM agentos_console;
                GRANT SELECT ON schema_migrations TO agentos_console;
            END IF;
        END;
        $$;
        """

    /// Job counts per (status, stage, queue), kept by statement-level triggers with transition
    /// tables, so the snapshot's counts cost a few dozen rows whatever the history. Triggers only
    /// APPEND deltas (appends never wait on each other, so writers cannot deadlock on hot counter
    /// rows); `job_counts_compact()` folds them into `job_counts` under an advisory lock, one
    /// compactor at a time. Readers add the two.
    static let jobCounts = """
        CREATE TABLE IF NOT EXISTS job_counts (
            status  text NOT NULL,
            stage   text NOT NULL,
            queue   text NOT NULL,
            n       bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (status, stage, queue)
        );

        CREATE TABLE IF NOT EXISTS job_count_deltas (
            id      bigserial PRIMARY KEY,
            status  text NOT NULL,
            stage   text NOT NULL,
            queue   text NOT NULL,
            d       bigint NOT NULL
        );

        CREATE INDEX IF NOT EXISTS jobs_queue_status_updated_idx ON jobs (queue, status, updated_at);

        CREATE OR REPLACE FUNCTION job_counts_apply() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO job_count_deltas (status, stage, queue, d)
                SELECT status, stage, queue, count(*) FROM new_rows GROUP BY 1, 2, 3;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO job_count_deltas (status, stage, queue, d)
                SELECT status, stage, queue, -count(*) FROM old_rows GROUP BY 1, 2, 3;
            ELSE
                INSERT INTO job_count_deltas (status, stage, queue, d)
                SELECT status, stage, queue, sum(d) FROM (
                    SELECT status, stage, queue, 1 AS d FROM new_rows
                    UNION ALL
                    SELECT status, stage, queue, -1 AS d FROM old_rows
                ) AS deltas
                GROUP BY 1, 2, 3 HAVING sum(d) <> 0;
            END IF;
            RETURN NULL;
        END;
        $$;

        DROP TRIGGER IF EXISTS job_counts_insert ON jobs;
        CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
        DROP TRIGGER IF EXISTS job_counts_update ON jobs;
        CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
        DROP TRIGGER IF EXISTS job_counts_delete ON jobs;
        CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();

        -- Folds the appended deltas into job_counts; returns the number folded (0 when another
        -- compaction holds the lock).
        CREATE OR REPLACE FUNCTION job_counts_compact() RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE folded bigint;
        BEGIN
            IF NOT pg_try_advisory_xact_lock(hashtext('agentos.job_counts_compact')) THEN
                RETURN 0;
            END IF;
            WITH moved AS (
                DELETE FROM job_count_deltas RETURNING status, stage, queue, d
            ), summed AS (
                SELECT status, stage, queue, sum(d) AS d, count(*) AS rows FROM moved GROUP BY 1, 2, 3
            ), applied AS (
                INSERT INTO job_counts (status, stage, queue, n)
                SELECT status, stage, queue, d FROM summed ORDER BY 1, 2, 3
                ON CONFLICT (status, stage, queue) DO UPDATE SET n = job_counts.n + EXCLUDED.n
                RETURNING 1
            )
            SELECT coalesce((SELECT sum(rows) FROM summed), 0) INTO folded FROM (SELECT count(*) FROM applied) AS a;
            RETURN folded;
        END;
        $$;

        -- TRUNCATE has no transition table: start over.
        CREATE OR REPLACE FUNCTION job_counts_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN DELETE FROM job_counts; DELETE FROM job_count_deltas; RETURN NULL; END; $$;
        DROP TRIGGER IF EXISTS job_counts_truncate ON jobs;
        CREATE TRIGGER job_counts_truncate AFTER TRUNCATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION job_counts_truncate();

        -- Existing rows (a real deployment's history) are counted once, here.
        DELETE FROM job_counts;
        DELETE FROM job_count_deltas;
        INSERT INTO job_counts (status, stage, queue, n) SELECT status, stage, queue, count(*) FROM jobs GROUP BY 1, 2, 3;

        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentos_console') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON job_counts, job_count_deltas TO agentos_console;
                GRANT USAGE, SELECT ON SEQUENCE job_count_deltas_id_seq TO agentos_console;
            END IF;
        END;
        $$;
        """

    /// State the actions keep that the AgentOS tables have no place for (log levels, mutes, alert
    /// rules, bookmarks, health checks, console settings) and an index for the failed-jobs window.
    static let actionTables = """
        CREATE TABLE IF NOT EXISTS service_log_levels (
            service     text PRIMARY KEY,
            level       text NOT NULL CHECK (level IN ('debug','info','warning','error','critical')),
            updated_by  text NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS log_mutes (
            source      text PRIMARY KEY,
            muted_by    text NOT NULL,
            muted_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS log_alert_rules (
            id          bigserial PRIMARY KEY,
            pattern     text NOT NULL,
            level       text NOT NULL CHECK (level IN ('debug','info','warning','error','critical')),
            severity    text NOT NULL CHECK (severity IN ('info','warning','error','critical')),
            created_by  text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS log_bookmarks (
            id          bigserial PRIMARY KEY,
            log_id      bigint NOT NULL,
            note        text NOT NULL,
            created_by  text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS health_checks (
            id          bigserial PRIMARY KEY,
            ts          timestamptz NOT NULL DEFAULT now(),
            ok          boolean NOT NULL,
            results     jsonb NOT NULL,
            checked_by  text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS console_settings (
            key         text PRIMARY KEY,
            value       jsonb NOT NULL,
            updated_by  text NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS jobs_status_updated_idx ON jobs (status, updated_at DESC);

        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentos_console') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON service_log_levels, log_mutes, log_alert_rules, log_bookmarks, health_checks,
                    console_settings TO agentos_console;
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO agentos_console;
            END IF;
        END;
        $$;
        """
}
