export * from './schemas.js';
export * from './topics.js';
