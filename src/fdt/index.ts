export { FdtWriter, type FdtNode } from './fdt-writer.js';
export { parseFdt, fdtCells, fdtStrings, FDT_MAX_DEPTH, type FdtTree, type FdtTreeNode } from './fdt-reader.js';
export { FdtError, FDT_ERROR_CODES, type FdtErrorCode } from './fdt-error.js';
