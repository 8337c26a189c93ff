export * from './MarketplaceApi';
export * from './types';
