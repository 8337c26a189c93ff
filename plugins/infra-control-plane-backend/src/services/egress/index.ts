export { EgressProxy } from './EgressProxy';
export { EgressRouteAccessError } from './types';
export { egressGrantForPlan } from './grants';
export {
  CidrList,
  classifyAddress,
  isAddressAllowed,
  type AddressCategory,
} from './addresses';
export { PLATFORM_DOMAIN, platformOrigin } from './platformRoutes';
export { ERROR_HEADER, REFUSED_HEADER } from './responses';
export type {
  EgressDecision,
  EgressGrant,
  EgressListener,
  EgressLookup,
  EgressPlatformRoute,
  EgressProxyOptions,
  EgressRefusalReason,
} from './types';
