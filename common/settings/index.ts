export * from './defaults';
export * from './dispatcher';
export * from './node';
