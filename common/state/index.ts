export * from './cells';
export { HttpStateStore } from './http-store';
export { MemoryStateStore } from './memory-store';
export { RedisStateStore, type RedisStateStoreOptions } from './redis-store';
export * from './types';
