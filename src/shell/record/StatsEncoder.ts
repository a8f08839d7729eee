/**
 * The stats-file encoder that Delivery requires lazily at a thread's first
 * write: core/StatsEncode's `encode`, from a module of its own so that the
 * build can ship it as one small bundle (scripts/bundle.ts). It needs no
 * Schema: every profiled process and thread that delivers stats loads it.
 */
export { encode } from "../../core/StatsEncode.ts"
