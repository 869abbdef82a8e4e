//! Avatar images: `process_avatar` with the production limits (`AvatarLimits::default()`:
//! 1 MiB uploads, 8192 pixels a side, 64 MiB of decoded pixels, 256-pixel output), what
//! `PUT /api/account/avatar` runs on the bytes of an upload.
//!
//! Invariants: nothing panics (the production code turns a decoder's panic into a
//! refusal, but the fuzzer's panic hook aborts first, so a panic anywhere is found);
//! nothing is accepted that is not PNG, JPEG or WebP by its magic bytes; an accepted
//! upload's header is within the limits; the avatar is a PNG (for PNG and WebP uploads)
//! or a JPEG (for JPEG ones) whose type matches its bytes, and decodes to a square of at
//! most the output size, never larger than the upload's shorter side; a refusal carries
//! a stable code.

#![no_main]

use std::io::Cursor;

use account_core::avatar::{AvatarError, AvatarLimits, ImageType, process_avatar};
use image::{ImageDecoder as _, ImageFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = AvatarLimits::default();
    let detected = ImageType::detect(data);
    match process_avatar(data, &limits) {
        Ok(avatar) => {
            let input_type = detected.expect("only PNG, JPEG and WebP are accepted");
            assert!(data.len() <= limits.max_upload_bytes);
            let (width, height) = header_dimensions(input_type, data);
            assert!(width > 0 && height > 0);
            assert!(width <= limits.max_dimension && height <= limits.max_dimension);

            let expected = match input_type {
                ImageType::Jpeg => ImageType::Jpeg,
                ImageType::Png | ImageType::WebP => ImageType::Png,
            };
            assert_eq!(avatar.image_type, expected);
            assert_eq!(ImageType::detect(&avatar.bytes), Some(avatar.image_type));
            let format = match avatar.image_type {
                ImageType::Png => ImageFormat::Png,
                ImageType::Jpeg => ImageFormat::Jpeg,
                ImageType::WebP => unreachable!("avatars are written as PNG or JPEG"),
            };
            let written = image::load_from_memory_with_format(&avatar.bytes, format)
                .expect("the avatar written decodes");
            let side = width.min(height).min(limits.output_size);
            assert_eq!((written.width(), written.height()), (side, side));
        }
        Err(error) => {
            assert!(error.code().starts_with("avatar_"));
            match error {
                AvatarError::TooLarge { .. } => assert!(data.len() > limits.max_upload_bytes),
                AvatarError::UnsupportedFormat => assert_eq!(detected, None),
                _ => assert!(detected.is_some()),
            }
        }
    }
});

/// The width and height the upload's header declares. The orientation may swap them in
/// the avatar, which is square, so the order does not matter.
fn header_dimensions(image_type: ImageType, data: &[u8]) -> (u32, u32) {
    let reader = Cursor::new(data);
    let dimensions = match image_type {
        ImageType::Png => image::codecs::png::PngDecoder::new(reader).map(|d| d.dimensions()),
        ImageType::Jpeg => image::codecs::jpeg::JpegDecoder::new(reader).map(|d| d.dimensions()),
        ImageType::WebP => image::codecs::webp::WebPDecoder::new(reader).map(|d| d.dimensions()),
    };
    dimensions.expect("an accepted upload has a readable header")
}
