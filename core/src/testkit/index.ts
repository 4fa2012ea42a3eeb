export * from './graph-driver-suite.js';
export * from './layer.js';
