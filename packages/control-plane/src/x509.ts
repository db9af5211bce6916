// @peculiar/x509 finds its algorithms through tsyringe, which refuses to load unless a Reflect
// metadata polyfill is in place first. ES modules evaluate imports in order, so importing x509
// only through this file guarantees the polyfill comes first.
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';
