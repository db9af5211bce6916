export { convertMesh, type ConversionResult } from './convert-mesh.js';
export { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from './options.js';
