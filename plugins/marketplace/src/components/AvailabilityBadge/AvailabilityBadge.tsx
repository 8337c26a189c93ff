import {
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
} from '@backstage/core-components';
import { Availability } from '../../api';

const LABELS: Record<Availability, string> = {
  available: 'Available',
  degraded: 'Degraded',
  unavailable: 'Unavailable',
  preview: 'Preview (not runnable yet)',
  unknown: 'Availability unknown',
};

/** Shows whether an agent's runtime can run it now, separate from its listing. */
export function AvailabilityBadge(props: { availability: Availability }) {
  const label = LABELS[props.availability];
  switch (props.availability) {
    case 'available':
      return <StatusOK>{label}</StatusOK>;
    case 'degraded':
      return <StatusWarning>{label}</StatusWarning>;
    case 'unavailable':
      return <StatusError>{label}</StatusError>;
    default:
      return <StatusPending>{label}</StatusPending>;
  }
}
