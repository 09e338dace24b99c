export * from './records';
export * from './diff';
export * from './actions';
export * from './history';
export * from './staleness';
export * from './schema';
