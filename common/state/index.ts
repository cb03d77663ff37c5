export * from './types';
export { MemoryStateStore } from './memory-store';
export { RedisStateStore, type RedisStateStoreOptions } from './redis-store';
export { HttpStateStore } from './http-store';
