export {
  type AppDescription,
  DEFAULT_APP_DESCRIPTION,
  encodeAppDescription,
  parseAppDescription,
} from './app-desc.js';
export { type BuildAppImageOptions, buildAppImage, type SegmentInput } from './build.js';
export { describeImage, type ImageDescription } from './describe.js';
export {
  APP_DESC_MAGIC,
  FLASH_SIZES,
  IMAGE_MAGIC,
  type ImageErrorReason,
  ImageFormatError,
  SPI_MODES,
  SPI_SPEEDS,
  type SpiMode,
} from './format.js';
export {
  assertImageForChip,
  type DigestCheck,
  type ImageHeader,
  type ImageSegment,
  type ParsedImage,
  parseImage,
  parseImageHeader,
} from './parse.js';
