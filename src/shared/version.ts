/** The product version, shown by `portcullis --version` and in the OpenAPI document. */
export const VERSION = '0.1.0';
