#!/usr/bin/env node
// Launcher: the ztunnel runs on the Node 24 that npm installed beside it, whatever `node` is first on PATH.
import { relaunchOnProjectNode } from '@ambient/core/node24';

if (!relaunchOnProjectNode(import.meta.url)) await import('../dist/main.js');
