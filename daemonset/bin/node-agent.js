#!/usr/bin/env node
// Launcher for our node agent (istio-cni's part); see ztunnel.js for why it may re-exec.
import { relaunchOnProjectNode } from '@ambient/core/node24';

if (!relaunchOnProjectNode(import.meta.url)) await import('../dist/node-agent/main.js');
