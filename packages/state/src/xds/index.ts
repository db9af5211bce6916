export { addressFromResource, convertAddress, type ConvertedAddress } from './convert-address.js';
export { convertAuthorization } from './convert-authorization.js';
export { encodeAuthorization, encodeService, encodeWorkload } from './encode.js';
export { DEFAULT_HBONE_MTLS_PORT } from './gateway-address.js';
export { XdsStateStore, type XdsResourceUpdate } from './store.js';
