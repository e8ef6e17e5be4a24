extension MigrationSQL {
    /// V13 (issue 17 items 3 and 7, D75): the server seals the audit trail. A BEFORE INSERT trigger
    /// (`agentos_audit.seal`, owned by the NOLOGIN role `agentos_auditor`) gives every row its seq,
    /// its previous hash, the login that wrote it and a keyed MAC, HMAC-SHA-256 over the previous
    /// MAC and the row's canonical form (`agentos_audit.canonical`, computed from the row itself).
    /// The key is random, made here, in a table no login may read. Logins append only through
    /// `audit_append` (their INSERT on audit_logs is revoked: the TEMP-T17A grant of V12 ends here)
    /// and verify through `audit_verify`. Rows written before this migration keep their unkeyed
    /// chain; `agentos_audit.chain_start` records where the keyed chain starts and the unkeyed
    /// chain's head, which the first keyed row's MAC covers.
    static let auditKeyed = """
        DO $$
        BEGIN
            IF to_regrole('agentos_auditor') IS NULL
               AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
                CREATE ROLE agentos_auditor NOLOGIN;
            END IF;
        END;
        $$;

        -- No append may slip between reading the unkeyed head and sealing the trail.
        LOCK TABLE audit_logs IN SHARE ROW EXCLUSIVE MODE;

        CREATE SCHEMA IF NOT EXISTS agentos_audit;
        REVOKE ALL ON SCHEMA agentos_audit FROM PUBLIC;
        ALTER TABLE audit_logs ADD COLUMN IF NOT EXISTS login text;

        -- The MAC key, as HMAC's two padded forms (key XOR 0x36 and 0x5c over 64 bytes).
        CREATE TABLE IF NOT EXISTS agentos_audit.mac_key (
            singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            ipad        bytea NOT NULL CHECK (length(ipad) = 64),
            opad        bytea NOT NULL CHECK (length(opad) = 64),
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        DO $$
        DECLARE
            -- 366 random bits from the server's strong random source (gen_random_uuid is core;
            -- pgcrypto may not be installed), folded into a 32-byte key.
            k bytea := sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))
                       || '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
            i bytea := k;
            o bytea := k;
        BEGIN
            IF EXISTS (SELECT 1 FROM agentos_audit.mac_key) THEN RETURN; END IF;
            FOR n IN 0..63 LOOP
                i := set_byte(i, n, get_byte(k, n) # 54);
                o := set_byte(o, n, get_byte(k, n) # 92);
            END LOOP;
            INSERT INTO agentos_audit.mac_key (ipad, opad) VALUES (i, o);
        END;
        $$;

        -- Where the keyed chain starts: rows below first_seq are the unkeyed chain of before V13,
        -- whose last hash is legacy_head (the genesis hash when there were none).
        CREATE TABLE IF NOT EXISTS agentos_audit.chain_start (
            singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            first_seq   bigint NOT NULL,
            legacy_head text NOT NULL,
            started_at  timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO agentos_audit.chain_start (first_seq, legacy_head)
        SELECT coalesce(max(seq), 0) + 1,
               coalesce((SELECT hash FROM audit_logs ORDER BY seq DESC LIMIT 1), '\(String(repeating: "0", count: 64))')
        FROM audit_logs
        ON CONFLICT DO NOTHING;

        -- A row's canonical form: every column but the two hashes, comma-separated, each text quoted
        -- (quote_nullable: no value can pass for another or for NULL), the timestamp as microseconds,
        -- so no session setting changes it. Columns, not the row: building a whole-row value per row
        -- costs three times the rest of the verification.
        CREATE OR REPLACE FUNCTION agentos_audit.canonical(
            seq bigint, id uuid, ts timestamptz, user_id text, login text, acting_as text, role text, action text, phase text,
            outcome text, request_id uuid, idempotency_key text, session_id text, target text, reason text, payload jsonb,
            result jsonb, ip inet, user_agent text, trace_id text, duration_ms integer, security_context jsonb) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT concat_ws(',', seq, id, (extract(epoch FROM ts) * 1000000)::bigint, quote_nullable(user_id), quote_nullable(login),
                             quote_nullable(acting_as), quote_nullable(role), quote_nullable(action), quote_nullable(phase),
                             quote_nullable(outcome), request_id, quote_nullable(idempotency_key), quote_nullable(session_id),
                             quote_nullable(target), quote_nullable(reason), quote_nullable(payload::text), quote_nullable(result::text),
                             quote_nullable(ip::text), quote_nullable(user_agent), quote_nullable(trace_id), quote_nullable(duration_ms::text),
                             quote_nullable(security_context::text))
        $$;

        -- HMAC-SHA-256 (RFC 2104) of prev + "\\n" + canonical, hex.
        CREATE OR REPLACE FUNCTION agentos_audit.mac(ipad bytea, opad bytea, prev text, canonical text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT encode(sha256(opad || sha256(ipad || convert_to(prev || E'\\n' || canonical, 'UTF8'))), 'hex')
        $$;

        -- Seals every row inserted with triggers on, whoever inserts it: the next seq under the
        -- chain's lock (PostgresAuditLog.lockKey), the head's MAC, the writing login, this row's MAC.
        CREATE OR REPLACE FUNCTION agentos_audit.seal() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            head record;
            k record;
        BEGIN
            PERFORM pg_advisory_xact_lock(4703804538535105860);
            SELECT a.seq, a.hash INTO head FROM public.audit_logs a ORDER BY a.seq DESC LIMIT 1;
            SELECT ipad, opad INTO k FROM agentos_audit.mac_key;
            NEW.seq := coalesce(head.seq, 0) + 1;
            NEW.prev_hash := coalesce(head.hash, '\(String(repeating: "0", count: 64))');
            NEW.login := session_user;
            NEW.hash := agentos_audit.mac(k.ipad, k.opad, NEW.prev_hash, agentos_audit.canonical(
                NEW.seq, NEW.id, NEW.timestamp, NEW.user_id, NEW.login, NEW.acting_as, NEW.role, NEW.action, NEW.phase, NEW.outcome,
                NEW.request_id, NEW.idempotency_key, NEW.session_id, NEW.target, NEW.reason, NEW.payload, NEW.result, NEW.ip_address,
                NEW.user_agent, NEW.trace_id, NEW.duration_ms, NEW.security_context));
            RETURN NEW;
        END;
        $$;
        DROP TRIGGER IF EXISTS audit_logs_seal ON audit_logs;
        CREATE TRIGGER audit_logs_seal BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION agentos_audit.seal();

        -- The only way a login adds a row. A login may write rows in its own name only, unless it
        -- writes for the console's users: a superuser, a member of agentos_shared, or the owner of
        -- the AgentOS tables. A readonly login (or one with no role left) writes only denials,
        -- previews and the actions its role allows.
        CREATE OR REPLACE FUNCTION public.audit_append(
            p_id uuid, p_ts timestamptz, p_user text, p_acting_as text, p_role text, p_action text, p_phase text, p_outcome text,
            p_request uuid, p_idempotency_key text, p_session text, p_target text, p_reason text, p_payload jsonb, p_result jsonb,
            p_ip inet, p_user_agent text, p_duration_ms integer)
        RETURNS TABLE (seq bigint, prev_hash text, hash text)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            r text := agentos_api.my_role();
        BEGIN
            IF p_user IS DISTINCT FROM session_user
               AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
               AND NOT (to_regrole('agentos_shared') IS NOT NULL AND pg_has_role(session_user, 'agentos_shared', 'MEMBER'))
               AND NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'public.audit_logs'::regclass), 'MEMBER') THEN
                RAISE EXCEPTION 'audit row refused: it names user %, and login % writes rows in its own name only', p_user, session_user
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF r IN ('readonly', 'none') AND p_phase NOT IN ('denied', 'preview')
               AND NOT EXISTS (SELECT 1 FROM agentos_private.role_actions ra WHERE ra.role = r AND ra.action = p_action) THEN
                RAISE EXCEPTION 'audit row refused: role % may write only denied and preview rows for %', r, p_action
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            -- seq, prev_hash, hash and login are the seal's.
            RETURN QUERY
            INSERT INTO public.audit_logs AS a (seq, id, timestamp, user_id, acting_as, role, action, phase, outcome, request_id,
                                                idempotency_key, session_id, target, reason, payload, result, ip_address, user_agent,
                                                duration_ms, prev_hash, hash)
            VALUES (0, p_id, p_ts, p_user, p_acting_as, p_role, p_action, p_phase, p_outcome, p_request, p_idempotency_key, p_session,
                    p_target, p_reason, p_payload, p_result, p_ip, p_user_agent, p_duration_ms, '', gen_random_uuid()::text)
            RETURNING a.seq, a.prev_hash, a.hash;
        END;
        $$;

        -- The first keyed row from p_first on whose MAC does not match its content. RETURN QUERY: the
        -- only way PL/pgSQL runs a query with parallel workers (SELECT INTO asks for a row count,
        -- which turns them off), and the scan is the verification's cost.
        CREATE OR REPLACE FUNCTION agentos_audit.first_bad_mac(p_first bigint) RETURNS SETOF bigint
        LANGUAGE plpgsql STABLE SET search_path = pg_catalog SET jit = off AS $$
        BEGIN
            RETURN QUERY
            SELECT min(a.seq) FROM public.audit_logs a, agentos_audit.mac_key k
            WHERE a.seq >= p_first
              AND a.hash <> agentos_audit.mac(k.ipad, k.opad, a.prev_hash, agentos_audit.canonical(
                      a.seq, a.id, a.timestamp, a.user_id, a.login, a.acting_as, a.role, a.action, a.phase, a.outcome, a.request_id,
                      a.idempotency_key, a.session_id, a.target, a.reason, a.payload, a.result, a.ip_address, a.user_agent, a.trace_id,
                      a.duration_ms, a.security_context));
        END;
        $$;

        -- Recomputes the keyed chain (rows from chain_start.first_seq on) and names the first bad row:
        -- a gap, a broken link, a row whose hash is the unkeyed SHA-256 of its content (forged: written
        -- without the key), or one whose content no longer matches its MAC (changed). Each row's MAC
        -- depends only on the row and its stored link, so the MACs are recomputed in one parallel scan
        -- (first_bad_mac), and the links, compared by lag(), in another that reads three columns.
        CREATE OR REPLACE FUNCTION public.audit_verify()
        RETURNS TABLE (first_seq bigint, legacy_head text, keyed_rows bigint, bad_seq bigint, problem text)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog SET jit = off AS $$
        DECLARE
            link record;
            mac_bad bigint;
            canonical text;
            bad public.audit_logs;
        BEGIN
            SELECT c.first_seq, c.legacy_head INTO first_seq, legacy_head FROM agentos_audit.chain_start c;
            SELECT count(*) INTO keyed_rows FROM public.audit_logs a WHERE a.seq >= first_seq;
            SELECT l.seq, l.prev_seq, l.prev_hash, l.prev_mac INTO link
            FROM (SELECT a.seq, a.prev_hash, coalesce(lag(a.seq) OVER w, first_seq - 1) AS prev_seq,
                         coalesce(lag(a.hash) OVER w, legacy_head) AS prev_mac
                  FROM public.audit_logs a WHERE a.seq >= first_seq WINDOW w AS (ORDER BY a.seq)) l
            WHERE l.seq <> l.prev_seq + 1 OR l.prev_hash <> l.prev_mac
            ORDER BY l.seq LIMIT 1;
            mac_bad := (SELECT agentos_audit.first_bad_mac(first_seq));
            IF link.seq IS NOT NULL AND (mac_bad IS NULL OR link.seq <= mac_bad) THEN
                bad_seq := link.seq;
                problem := CASE
                    WHEN link.seq <> link.prev_seq + 1 THEN format('row(s) %s…%s missing before it (gap)', link.prev_seq + 1, link.seq - 1)
                    ELSE format('previous-hash link does not match row %s (row deleted, inserted or swapped)', link.prev_seq) END;
            ELSIF mac_bad IS NOT NULL THEN
                bad_seq := mac_bad;
                SELECT * INTO bad FROM public.audit_logs a WHERE a.seq = mac_bad;
                canonical := agentos_audit.canonical(
                    bad.seq, bad.id, bad.timestamp, bad.user_id, bad.login, bad.acting_as, bad.role, bad.action, bad.phase, bad.outcome,
                    bad.request_id, bad.idempotency_key, bad.session_id, bad.target, bad.reason, bad.payload, bad.result, bad.ip_address,
                    bad.user_agent, bad.trace_id, bad.duration_ms, bad.security_context);
                problem := CASE
                    WHEN bad.hash = encode(sha256(convert_to(bad.prev_hash || E'\\n' || canonical, 'UTF8')), 'hex') THEN
                        'forged row: its hash is an unkeyed SHA-256, not the server''s MAC (written without the key)'
                    ELSE 'changed row: content does not match its MAC (row altered, or forged without the key)' END;
            END IF;
            RETURN NEXT;
        END;
        $$;

        -- The newest row and the row count, for a checkpoint.
        CREATE OR REPLACE FUNCTION public.audit_head() RETURNS TABLE (seq bigint, hash text, row_count bigint)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT h.seq, h.hash, (SELECT count(*) FROM public.audit_logs)
            FROM (SELECT a.seq, a.hash FROM public.audit_logs a ORDER BY a.seq DESC LIMIT 1) h
        $$;

        -- Where the keyed chain starts (for readers telling keyed rows from unkeyed ones).
        CREATE OR REPLACE FUNCTION public.audit_chain_start() RETURNS TABLE (first_seq bigint, legacy_head text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT c.first_seq, c.legacy_head FROM agentos_audit.chain_start c
        $$;

        REVOKE ALL ON ALL TABLES IN SCHEMA agentos_audit FROM PUBLIC;
        REVOKE ALL ON FUNCTION agentos_audit.seal() FROM PUBLIC;
        REVOKE ALL ON FUNCTION agentos_audit.first_bad_mac(bigint) FROM PUBLIC;
        REVOKE ALL ON FUNCTION public.audit_append(uuid, timestamptz, text, text, text, text, text, text, uuid, text, text, text, text,
                                                   jsonb, jsonb, inet, text, integer) FROM PUBLIC;
        REVOKE ALL ON FUNCTION public.audit_verify() FROM PUBLIC;
        REVOKE ALL ON FUNCTION public.audit_head() FROM PUBLIC;
        REVOKE ALL ON FUNCTION public.audit_chain_start() FROM PUBLIC;
        REVOKE INSERT ON audit_logs FROM PUBLIC;

        -- Every login of the console may call the four (the groups, the shared logins, the migrating
        -- login that owns the tables); what a caller may write is audit_append's to decide.
        DO $$
        DECLARE g text;
        BEGIN
            FOREACH g IN ARRAY ARRAY['agentos_readonly', 'agentos_user', 'agentos_operator', 'agentos_supervisor', 'agentos_admin',
                                     'agentos_shared', 'agentos_console', current_user::text] LOOP
                CONTINUE WHEN to_regrole(g) IS NULL;
                IF g <> current_user THEN EXECUTE format('REVOKE INSERT ON audit_logs FROM %I', g); END IF;
                EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_append(uuid, timestamptz, text, text, text, text, text, text, uuid, '
                               'text, text, text, text, jsonb, jsonb, inet, text, integer), public.audit_verify(), public.audit_head(), '
                               'public.audit_chain_start() TO %I', g);
            END LOOP;
            IF to_regrole('agentos_auditor') IS NULL THEN RETURN; END IF;
            -- The auditor reads the key and appends; nobody logs in as it. The migrating login joins
            -- it only to hand the objects over (ALTER ... OWNER needs membership) and leaves again.
            IF NOT pg_has_role(current_user, 'agentos_auditor', 'MEMBER') THEN
                EXECUTE format('GRANT agentos_auditor TO %I', current_user);
            END IF;
            GRANT USAGE ON SCHEMA agentos_audit TO agentos_auditor;
            GRANT SELECT ON ALL TABLES IN SCHEMA agentos_audit TO agentos_auditor;
            GRANT SELECT, INSERT ON audit_logs TO agentos_auditor;
            GRANT SELECT ON agentos_private.role_actions TO agentos_auditor;
            GRANT USAGE ON SCHEMA agentos_private TO agentos_auditor;
            ALTER SCHEMA agentos_audit OWNER TO agentos_auditor;
            ALTER TABLE agentos_audit.mac_key OWNER TO agentos_auditor;
            ALTER TABLE agentos_audit.chain_start OWNER TO agentos_auditor;
            ALTER FUNCTION agentos_audit.canonical(bigint, uuid, timestamptz, text, text, text, text, text, text, text, uuid, text, text, text,
                                                    text, jsonb, jsonb, inet, text, text, integer, jsonb) OWNER TO agentos_auditor;
            ALTER FUNCTION agentos_audit.mac(bytea, bytea, text, text) OWNER TO agentos_auditor;
            ALTER FUNCTION agentos_audit.seal() OWNER TO agentos_auditor;
            ALTER FUNCTION agentos_audit.first_bad_mac(bigint) OWNER TO agentos_auditor;
            ALTER FUNCTION public.audit_append(uuid, timestamptz, text, text, text, text, text, text, uuid, text, text, text, text, jsonb,
                                               jsonb, inet, text, integer) OWNER TO agentos_auditor;
            ALTER FUNCTION public.audit_verify() OWNER TO agentos_auditor;
            ALTER FUNCTION public.audit_head() OWNER TO agentos_auditor;
            ALTER FUNCTION public.audit_chain_start() OWNER TO agentos_auditor;
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE format('REVOKE agentos_auditor FROM %I', current_user);
            END IF;
        END;
        $$;
        """
}
