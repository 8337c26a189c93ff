export { ExecutionStatusChip } from './ExecutionStatusChip';
