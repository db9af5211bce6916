import { Counter, type Registry } from 'prom-client';

/**
 * istiod's CA counters, with its metric names, so existing dashboards and alerts work. Like
 * istiod, a refused impersonation counts as an authentication failure.
 */
export class CaMetrics {
  readonly csrReceived: Counter;
  readonly authenticationFailures: Counter;
  readonly csrParsingErrors: Counter;
  readonly signErrors: Counter<'error_type'>;
  readonly issued: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.csrReceived = new Counter({
      name: 'citadel_server_csr_count',
      help: 'The number of CSRs received by the CA server.',
      registers,
    });
    this.authenticationFailures = new Counter({
      name: 'citadel_server_authentication_failure_count',
      help: 'The number of authentication and authorization failures.',
      registers,
    });
    this.csrParsingErrors = new Counter({
      name: 'citadel_server_csr_parsing_err_count',
      help: 'The number of errors occurred when parsing the CSR.',
      registers,
    });
    this.signErrors = new Counter({
      name: 'citadel_server_csr_sign_err_count',
      help: 'The number of errors occurred when signing the CSR.',
      labelNames: ['error_type'],
      registers,
    });
    this.issued = new Counter({
      name: 'citadel_server_success_cert_issuance_count',
      help: 'The number of certificates issuances that have succeeded.',
      registers,
    });
  }
}
