#!/usr/bin/env node
// Launcher for the local mesh on loopback (`npm start`); see ztunnel.js for why it may re-exec.
import { relaunchOnProjectNode } from '@ambient/core/node24';

if (!relaunchOnProjectNode(import.meta.url)) await import('../dist/local-mesh/main.js');
