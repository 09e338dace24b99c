export * from './channels';
export * from './errors';
export * from './schemas';
export * from './client';
export * from './bridge';
export * from './ws-transport';
export * from './wire';
