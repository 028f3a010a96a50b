import { MigrationInterface, QueryRunner } from 'typeorm';
import { ChainedTable, contentHashSql } from '../audit-chain/chained-tables';
import { entryHash, GENESIS_HASH } from '../audit-chain/entry-hash';

/**
 * The tamper-evident audit chain (audit_log + its head + retention checkpoints), the records the
 * initial schema lacked (dead letters and replays, admin actions), and the indexes the query API
 * filters by. Rows written before this migration are chained here, oldest first.
 */
export class AuditChain1764500000000 implements MigrationInterface {
  name = 'AuditChain1764500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        record_type text NOT NULL,
        record_id text NOT NULL,
        action text NOT NULL,
        content_sha256 text NOT NULL,
        prev_hash text NOT NULL,
        entry_hash text NOT NULL
      )`);
    await db.query(`CREATE INDEX audit_log_record ON audit_log (record_type, record_id, seq)`);
    await db.query(`CREATE INDEX audit_log_at ON audit_log (at)`);
    // The single row every writer locks to append: the link is serialised across processes.
    await db.query(`
      CREATE TABLE audit_chain_head (
        id smallint PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        entry_hash text NOT NULL
      )`);
    await db.query(`INSERT INTO audit_chain_head (id, seq, entry_hash) VALUES (1, 0, $1)`, [GENESIS_HASH]);
    // Links a batch of records to the chain: locks the head (serialising writers in every process),
    // hashes each entry onto the one before, appends them and moves the head, in one round trip.
    await db.query(`
      CREATE FUNCTION audit_append(p_types text[], p_ids text[], p_actions text[], p_hashes text[])
      RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        n integer := coalesce(array_length(p_types, 1), 0);
        head_seq bigint;
        head_hash text;
        at_time timestamptz;
        at_text text;
        seqs bigint[] := '{}';
        prevs text[] := '{}';
        hashes text[] := '{}';
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        SELECT seq, entry_hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
        at_time := date_trunc('milliseconds', clock_timestamp());
        at_text := to_char(at_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
        FOR i IN 1..n LOOP
          head_seq := head_seq + 1;
          seqs := seqs || head_seq;
          prevs := prevs || head_hash;
          head_hash := encode(sha256(convert_to(concat_ws('|', head_seq::text, at_text, p_types[i], p_ids[i],
                                                           p_actions[i], p_hashes[i], head_hash), 'UTF8')), 'hex');
          hashes := hashes || head_hash;
        END LOOP;
        INSERT INTO audit_log (seq, at, record_type, record_id, action, content_sha256, prev_hash, entry_hash)
        SELECT s, at_time, t, i, a, c, p, h
        FROM unnest(seqs, p_types, p_ids, p_actions, p_hashes, prevs, hashes) AS x(s, t, i, a, c, p, h);
        UPDATE audit_chain_head SET seq = head_seq, entry_hash = head_hash WHERE id = 1;
      END $$`);
    await db.query(`
      CREATE TABLE audit_checkpoint (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint NOT NULL,
        entry_hash text NOT NULL,
        cutoff timestamptz NOT NULL,
        pruned jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Append-only in normal operation: only the retention job (which sets aegle.audit_prune) may
    // delete. A superuser can still get round it; the chain is what makes that detectable.
    await db.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('aegle.audit_prune', true) = 'on' THEN
          RETURN NULL;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only';
      END $$`);
    await db.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);

    // Queue jobs other than write-back that gave up (write-back has its own dead letters, with replay).
    await db.query(`
      CREATE TABLE failed_job (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        queue text NOT NULL,
        job_id text NOT NULL,
        job_name text NOT NULL,
        payload jsonb NOT NULL,
        source_id text,
        attempts integer NOT NULL,
        reason text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        replayed_at timestamptz,
        replayed_by text,
        replay_job_id text
      )`);
    await db.query(`CREATE INDEX failed_job_created ON failed_job (created_at)`);

    await db.query(`CREATE INDEX event_created ON event (created_at, id)`);
    await db.query(`CREATE INDEX plugin_run_created ON plugin_run (created_at, id)`);
    await db.query(`CREATE INDEX plugin_run_source_plugin ON plugin_run (source_id, plugin_id, created_at)`);
    await db.query(`CREATE INDEX write_back_created ON write_back (created_at, id)`);
    await db.query(`CREATE INDEX write_back_resource ON write_back (resource_type, resource_id)`);

    await this.chainExistingRows(db);
  }

  /** Rows recorded before the chain existed enter it in the order they were written. */
  private async chainExistingRows(db: QueryRunner): Promise<void> {
    const existing: Array<{ table: ChainedTable; id: string; hash: string }> = [];
    const tables: Array<[ChainedTable, string]> = [
      ['notification', 'received_at'],
      ['event', 'created_at'],
      ['plugin_run', 'created_at'],
      ['write_back', 'created_at'],
      ['dead_letter', 'created_at'],
      ['admin_action', 'created_at'],
    ];
    for (const [table, createdAt] of tables) {
      const rows: Array<{ id: string; hash: string; at: string }> = await db.query(
        `SELECT id::text AS id, ${contentHashSql(table, 't')} AS hash FROM ${table} t ORDER BY ${createdAt}, id`,
      );
      existing.push(...rows.map((r) => ({ table, id: r.id, hash: r.hash })));
    }
    if (existing.length === 0) return;
    const [{ at }] = (await db.query(`SELECT date_trunc('milliseconds', clock_timestamp()) AS at`)) as Array<{
      at: Date;
    }>;
    let prev = GENESIS_HASH;
    let seq = 0;
    for (let i = 0; i < existing.length; i += 1000) {
      const slice = existing.slice(i, i + 1000).map((r) => {
        seq += 1;
        const content = {
          seq: String(seq),
          at,
          recordType: r.table,
          recordId: r.id,
          action: 'migrated',
          contentSha256: r.hash,
          prevHash: prev,
        };
        prev = entryHash(content);
        return { ...content, entryHash: prev };
      });
      await db.query(
        `INSERT INTO audit_log (seq, at, record_type, record_id, action, content_sha256, prev_hash, entry_hash)
         SELECT s, $2, t, i, 'migrated', c, p, h
         FROM unnest($1::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(s, t, i, c, p, h)`,
        [
          slice.map((e) => e.seq),
          at,
          slice.map((e) => e.recordType),
          slice.map((e) => e.recordId),
          slice.map((e) => e.contentSha256),
          slice.map((e) => e.prevHash),
          slice.map((e) => e.entryHash),
        ],
      );
    }
    await db.query(`UPDATE audit_chain_head SET seq = $1, entry_hash = $2 WHERE id = 1`, [seq, prev]);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const index of [
      'write_back_resource',
      'write_back_created',
      'plugin_run_source_plugin',
      'plugin_run_created',
      'event_created',
    ])
      await db.query(`DROP INDEX ${index}`);
    await db.query(`DROP TABLE failed_job`);
    await db.query(`DROP TABLE audit_checkpoint`);
    await db.query(`DROP TABLE audit_chain_head`);
    await db.query(`DROP TABLE audit_log`);
    await db.query(`DROP FUNCTION audit_log_append_only`);
    await db.query(`DROP FUNCTION audit_append`);
  }
}
