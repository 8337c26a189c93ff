export interface Config {
  /** Used by kubernetes:job:create: the clusters of infraControlPlane.kubernetes. */
  infraControlPlane?: {};
}
