/**
 * The stats-file encoder that Delivery requires lazily at a thread's first
 * write: core/StatsFile's `encode`, re-exported from a module of its own so
 * that the build can ship it as one bundle (scripts/bundle.ts). Required
 * from dist/core/StatsFile.js, it loaded effect's Schema as some hundred
 * separate files in every profiled process that wrote stats.
 */
export { encode } from "../../core/StatsFile.ts"
