export { MyAgentsPage } from './MyAgentsPage';
