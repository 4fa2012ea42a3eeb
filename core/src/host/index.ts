export * from './exec.js';
export * from './fs.js';
export * from './mount.js';
export * from './mountinfo.js';
export * from './resolve.js';
export * from './snapshot-store.js';
export * from './usage.js';
export * from './static-network-driver.js';
