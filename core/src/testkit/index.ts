export * from './graph-driver-suite.js';
export * from './layer.js';
export * from './runtime-suite.js';
export * from './network-suite.js';
export * from './volume-suite.js';
export * from './netns.js';
export * from './ipam-suite.js';
