/**
 * profileAll / profileStream on Effect Cluster runners, as one namespace:
 * `layerClient` on the calling side, `layerRunner` for a whole runner process
 * (what `lineprof runner` launches), `layerEntity` for a runner app of one's
 * own, and the error a runner answers when it cannot load the child.
 */
export { layer as layerClient, autoChunkSize, type ClientOptions } from "./Client.ts"
export { entityIdOf, LineprofRunner, RunnerLoadError } from "./Protocol.ts"
export {
  fastSharding,
  layer as layerRunner,
  layerEntity,
  layerPostgres,
  type RunnerOptions,
  type RunnerPoolOptions
} from "./Runner.ts"
