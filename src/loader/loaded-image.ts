/**
 * What every loader returns, whatever the image's format: where it landed, where to start it,
 * and the first guest address past it (where the next image, an initrd or a device tree can go).
 */
export interface LoadedImage {
  /** The lowest guest address the image occupies. */
  readonly addr: number;
  /** Where to start it (a guest address). */
  readonly entry: number;
  /** One past the highest guest address it occupies (bss and reserved size included). */
  readonly end: number;
}
