export { RunForm } from './RunForm';
