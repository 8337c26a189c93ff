export { PublishingPage } from './PublishingPage';
