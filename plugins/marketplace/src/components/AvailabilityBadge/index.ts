export { AvailabilityBadge } from './AvailabilityBadge';
