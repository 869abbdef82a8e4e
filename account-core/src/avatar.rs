//! Avatar images: checked by content, decoded with limits, re-encoded as a small square.
//!
//! An uploaded avatar is hostile until proven otherwise. [`process_avatar`] refuses it
//! by size before reading it, judges its format by its magic bytes (never by a file name
//! or a declared content type), refuses oversized dimensions from the header before any
//! pixel is decoded, decodes it under memory limits, and re-encodes the pixels as a new,
//! small, square image. Only pixels survive the trip: EXIF (with its GPS position),
//! XMP, comments and anything smuggled after the image data are dropped, and what is
//! served later is an image this library wrote.

use std::fmt;
use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngDecoder, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::error::LimitErrorKind;
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageBuffer, ImageDecoder, ImageEncoder, ImageError, Pixel,
};
use serde::{Deserialize, Serialize};

/// An image format accepted for avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageType {
    /// PNG (`image/png`).
    Png,
    /// JPEG (`image/jpeg`).
    Jpeg,
    /// WebP (`image/webp`).
    WebP,
}

impl ImageType {
    /// The media type to serve the image with.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::WebP => "image/webp",
        }
    }

    /// The type a `Content-Type` value names, ignoring case and parameters.
    ///
    /// This is for refusing an obviously wrong upload early (415); [`process_avatar`]
    /// never trusts it and judges the bytes themselves.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("image/png") {
            Some(ImageType::Png)
        } else if essence.eq_ignore_ascii_case("image/jpeg") {
            Some(ImageType::Jpeg)
        } else if essence.eq_ignore_ascii_case("image/webp") {
            Some(ImageType::WebP)
        } else {
            None
        }
    }

    /// The type the bytes' magic numbers show, if it is one of the accepted ones.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
        const JPEG: &[u8] = b"\xff\xd8\xff";
        if bytes.starts_with(PNG) {
            Some(ImageType::Png)
        } else if bytes.starts_with(JPEG) {
            Some(ImageType::Jpeg)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageType::WebP)
        } else {
            None
        }
    }
}

/// A processed avatar, ready to be stored and served.
///
/// `image_type` always matches the format of `bytes`.
#[derive(Clone, PartialEq, Eq)]
pub struct Avatar {
    /// The format of `bytes`.
    pub image_type: ImageType,
    /// The encoded image.
    pub bytes: Vec<u8>,
}

impl Avatar {
    /// The media type to serve the avatar with.
    pub fn content_type(&self) -> &'static str {
        self.image_type.content_type()
    }
}

impl fmt::Debug for Avatar {
    /// The type and the length only: a dump of image bytes helps nobody reading a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Avatar")
            .field("image_type", &self.image_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The limits [`process_avatar`] enforces.
#[derive(Debug, Clone)]
pub struct AvatarLimits {
    /// The largest upload accepted, in bytes (default 1 MiB).
    pub max_upload_bytes: usize,
    /// The largest width or height accepted, in pixels (default 8192).
    pub max_dimension: u32,
    /// The most memory the decoded pixels may take, in bytes (default 64 MiB). An image
    /// whose pixels would need more is refused from its header, like one that is too
    /// wide. Decoding and converting the pixels may briefly take a small multiple of it.
    pub max_decoded_bytes: u64,
    /// The side of the square avatar produced, in pixels (default 256). Smaller images
    /// are cropped but never enlarged.
    pub output_size: u32,
    /// How many uploads are decoded at once, across all accounts (default 1). Each may
    /// take a small multiple of `max_decoded_bytes` while it runs, so this bounds the
    /// memory avatars can take.
    pub max_concurrent: usize,
    /// How many more uploads may wait for their turn (default 8); past that an upload is
    /// refused at once with `Error::RateLimited`, before it is decoded.
    pub max_waiting: usize,
    /// How many uploads one account may make (default 10 a minute; `None`: no limit),
    /// counted before decoding.
    pub per_account: Option<crate::RateLimit>,
}

impl Default for AvatarLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 1024 * 1024,
            max_dimension: 8192,
            max_decoded_bytes: 64 * 1024 * 1024,
            output_size: 256,
            max_concurrent: 1,
            max_waiting: 8,
            per_account: Some(crate::RateLimit::per_minute(10)),
        }
    }
}

/// Why an uploaded avatar was refused.
///
/// The messages never describe the upload's content beyond its size or dimensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AvatarError {
    /// The upload is larger than allowed.
    #[error("the image is larger than {max_bytes} bytes")]
    TooLarge {
        /// The largest upload accepted, in bytes.
        max_bytes: usize,
    },
    /// The upload is not a PNG, JPEG or WebP image.
    #[error("only PNG, JPEG and WebP images are accepted")]
    UnsupportedFormat,
    /// The image is wider or taller than allowed, or has too many pixels to decode
    /// within the memory limit.
    #[error("the image is too large: at most {max} pixels wide and high")]
    DimensionsTooLarge {
        /// The largest width or height accepted, in pixels.
        max: u32,
    },
    /// The image is corrupt or uses a variant of its format that cannot be read.
    #[error("the image could not be read")]
    Undecodable,
}

impl AvatarError {
    /// A stable code such as `avatar_too_large`, for clients to match on.
    pub fn code(&self) -> &'static str {
        match self {
            AvatarError::TooLarge { .. } => "avatar_too_large",
            AvatarError::UnsupportedFormat => "avatar_unsupported_format",
            AvatarError::DimensionsTooLarge { .. } => "avatar_dimensions_too_large",
            AvatarError::Undecodable => "avatar_undecodable",
        }
    }
}

/// The JPEG quality of re-encoded avatars: visually clean at a fraction of the size.
const JPEG_QUALITY: u8 = 85;

/// Checks, decodes and re-encodes an uploaded image.
///
/// The result is the centre square of the image, scaled down to at most
/// `output_size` pixels a side, with its EXIF orientation applied and every piece of
/// metadata dropped. PNG and WebP uploads become PNG (which keeps transparency), JPEG
/// uploads become JPEG.
///
/// CPU-bound, up to tens of milliseconds for a large upload: callers run it on the
/// blocking pool.
///
/// # Errors
///
/// In the order they are checked: [`AvatarError::TooLarge`] before any byte is parsed,
/// [`AvatarError::UnsupportedFormat`] for anything but PNG, JPEG and WebP,
/// [`AvatarError::DimensionsTooLarge`] from the image header, before any pixel is
/// decoded, and [`AvatarError::Undecodable`] for corrupt data.
pub fn process_avatar(upload: &[u8], limits: &AvatarLimits) -> Result<Avatar, AvatarError> {
    if upload.len() > limits.max_upload_bytes {
        return Err(AvatarError::TooLarge {
            max_bytes: limits.max_upload_bytes,
        });
    }
    let input_type = ImageType::detect(upload).ok_or(AvatarError::UnsupportedFormat)?;
    // The decoders parse hostile bytes. They are written not to panic, but should one
    // slip, the upload is refused as undecodable instead of taking the caller's task
    // down with it (where panics unwind).
    std::panic::catch_unwind(|| {
        let image = decode(input_type, upload, limits)?;
        reencode(image, input_type, limits.output_size)
    })
    .unwrap_or(Err(AvatarError::Undecodable))
}

/// Decodes `upload` as `image_type`, refusing it from the header when it is too large.
fn decode(
    image_type: ImageType,
    upload: &[u8],
    limits: &AvatarLimits,
) -> Result<DynamicImage, AvatarError> {
    let map_err = |e| from_image_error(e, limits);
    let reader = Cursor::new(upload);
    match image_type {
        // The PNG decoder checks the dimensions as soon as it has read the header, and
        // bounds its own buffers by `max_alloc`.
        ImageType::Png => decode_checked(
            PngDecoder::with_limits(reader, image_limits(limits)).map_err(map_err)?,
            limits,
            true,
        ),
        ImageType::Jpeg => decode_checked(JpegDecoder::new(reader).map_err(map_err)?, limits, true),
        // The orientation of a WebP image lives in an EXIF chunk whose declared size the
        // decoder would allocate before reading it, so it is not consulted; phones save
        // photos as JPEG, where orientation matters.
        ImageType::WebP => {
            decode_checked(WebPDecoder::new(reader).map_err(map_err)?, limits, false)
        }
    }
}

/// The `image` crate's limits for `limits`: the decoders enforce these themselves, as a
/// second line behind the checks of [`decode_checked`].
fn image_limits(limits: &AvatarLimits) -> image::Limits {
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_dimension);
    image_limits.max_image_height = Some(limits.max_dimension);
    image_limits.max_alloc = Some(limits.max_decoded_bytes);
    image_limits
}

/// The refusal for an error of the `image` crate: a limit it enforced means the image
/// is too large, anything else that it cannot be read.
fn from_image_error(error: ImageError, limits: &AvatarLimits) -> AvatarError {
    match error {
        ImageError::Limits(l) if !matches!(l.kind(), LimitErrorKind::Unsupported { .. }) => {
            AvatarError::DimensionsTooLarge {
                max: limits.max_dimension,
            }
        }
        _ => AvatarError::Undecodable,
    }
}

/// Checks a decoder's header against the limits, then decodes the image.
fn decode_checked<D: ImageDecoder>(
    mut decoder: D,
    limits: &AvatarLimits,
    use_orientation: bool,
) -> Result<DynamicImage, AvatarError> {
    let too_large = AvatarError::DimensionsTooLarge {
        max: limits.max_dimension,
    };
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(AvatarError::Undecodable);
    }
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(too_large);
    }
    // `total_bytes` is the buffer decoding allocates for the pixels. The decoders' working
    // memory on top of it grows with the same pixel count, so it is bounded too.
    if decoder.total_bytes() > limits.max_decoded_bytes {
        return Err(too_large);
    }
    decoder
        .set_limits(image_limits(limits))
        .map_err(|e| from_image_error(e, limits))?;
    let orientation = if use_orientation {
        // A broken EXIF block costs the rotation, not the upload.
        decoder.orientation().unwrap_or(Orientation::NoTransforms)
    } else {
        Orientation::NoTransforms
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| from_image_error(e, limits))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Crops, scales and encodes the decoded image in the output format for `input_type`.
fn reencode(
    image: DynamicImage,
    input_type: ImageType,
    output_size: u32,
) -> Result<Avatar, AvatarError> {
    let mut bytes = Vec::new();
    let image_type = match input_type {
        ImageType::Jpeg => {
            let square = square(&image.into_rgb8(), output_size);
            JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
                .write_image(
                    square.as_raw(),
                    square.width(),
                    square.height(),
                    ExtendedColorType::Rgb8,
                )
                .map_err(|_| AvatarError::Undecodable)?;
            ImageType::Jpeg
        }
        ImageType::Png | ImageType::WebP => {
            let encoder = PngEncoder::new_with_quality(
                &mut bytes,
                CompressionType::Best,
                PngFilter::Adaptive,
            );
            let result = if image.color().has_alpha() {
                let square = square(&image.into_rgba8(), output_size);
                encoder.write_image(
                    square.as_raw(),
                    square.width(),
                    square.height(),
                    ExtendedColorType::Rgba8,
                )
            } else {
                let square = square(&image.into_rgb8(), output_size);
                encoder.write_image(
                    square.as_raw(),
                    square.width(),
                    square.height(),
                    ExtendedColorType::Rgb8,
                )
            };
            result.map_err(|_| AvatarError::Undecodable)?;
            ImageType::Png
        }
    };
    Ok(Avatar { image_type, bytes })
}

/// The centre square of `image`, scaled down to at most `output_size` a side.
fn square<P>(image: &ImageBuffer<P, Vec<u8>>, output_size: u32) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let (width, height) = image.dimensions();
    let side = width.min(height);
    let view = imageops::crop_imm(image, (width - side) / 2, (height - side) / 2, side, side);
    let target = output_size.max(1);
    if side <= target {
        return view.to_image();
    }
    // Averaging boxes of pixels is fast and linear in the input, but aliases when the
    // ratio is small; a Lanczos filter is sharp and clean but slow on large ratios. So
    // boxes bring a large image down to twice the target, and Lanczos does the rest.
    let double = target.saturating_mul(2);
    if side > double {
        let halfway = imageops::thumbnail(&*view, double, double);
        imageops::resize(&halfway, target, target, FilterType::Lanczos3)
    } else {
        imageops::resize(&*view, target, target, FilterType::Lanczos3)
    }
}

#[cfg(test)]
mod tests {
    use image::{GenericImageView as _, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
    use rand::{Rng as _, SeedableRng as _};

    use super::*;

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, format)
            .expect("test image encodes");
        out.into_inner()
    }

    /// Red on the left quarter, blue on the right quarter, green between: a centre
    /// crop of a 2:1 image is all green.
    fn bands(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, _| {
            if x < width / 4 {
                Rgb([255, 0, 0])
            } else if x >= width - width / 4 {
                Rgb([0, 0, 255])
            } else {
                Rgb([0, 255, 0])
            }
        })
    }

    /// Noise that does not compress, so images have realistic sizes.
    fn noise(width: u32, height: u32, seed: u64) -> RgbImage {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        RgbImage::from_fn(width, height, |_, _| Rgb(rng.random()))
    }

    fn process(upload: &[u8]) -> Result<Avatar, AvatarError> {
        process_avatar(upload, &AvatarLimits::default())
    }

    fn decoded(avatar: &Avatar) -> DynamicImage {
        let format = match avatar.image_type {
            ImageType::Png => ImageFormat::Png,
            ImageType::Jpeg => ImageFormat::Jpeg,
            ImageType::WebP => ImageFormat::WebP,
        };
        image::load_from_memory_with_format(&avatar.bytes, format).expect("output decodes")
    }

    fn close(a: Rgb<u8>, b: [u8; 3]) -> bool {
        a.0.iter().zip(b).all(|(&x, y)| x.abs_diff(y) < 40)
    }

    #[test]
    fn large_png_becomes_a_256_square_of_its_centre() {
        let upload = encode(bands(1000, 500).into(), ImageFormat::Png);
        let avatar = process(&upload).expect("accepted");
        assert_eq!(avatar.image_type, ImageType::Png);
        assert_eq!(ImageType::detect(&avatar.bytes), Some(ImageType::Png));
        let out = decoded(&avatar).into_rgb8();
        assert_eq!(out.dimensions(), (256, 256));
        for (x, y) in [(0, 0), (255, 0), (0, 255), (255, 255), (128, 128)] {
            assert!(close(*out.get_pixel(x, y), [0, 255, 0]), "pixel {x},{y}");
        }
    }

    #[test]
    fn small_jpeg_is_cropped_but_not_enlarged() {
        let upload = encode(bands(100, 60).into(), ImageFormat::Jpeg);
        let avatar = process(&upload).expect("accepted");
        assert_eq!(avatar.image_type, ImageType::Jpeg);
        assert_eq!(avatar.content_type(), "image/jpeg");
        assert_eq!(ImageType::detect(&avatar.bytes), Some(ImageType::Jpeg));
        assert_eq!(decoded(&avatar).dimensions(), (60, 60));
    }

    #[test]
    fn webp_becomes_png_and_keeps_transparency() {
        let image = RgbaImage::from_fn(300, 300, |x, _| {
            if x < 150 {
                Rgba([0, 0, 0, 0])
            } else {
                Rgba([200, 10, 10, 255])
            }
        });
        let upload = encode(image.into(), ImageFormat::WebP);
        assert_eq!(ImageType::detect(&upload), Some(ImageType::WebP));
        let avatar = process(&upload).expect("accepted");
        assert_eq!(avatar.image_type, ImageType::Png);
        let out = decoded(&avatar).into_rgba8();
        assert_eq!(out.dimensions(), (256, 256));
        assert_eq!(out.get_pixel(5, 100)[3], 0);
        assert_eq!(out.get_pixel(250, 100)[3], 255);
    }

    #[test]
    fn opaque_webp_becomes_opaque_png() {
        let upload = encode(bands(64, 64).into(), ImageFormat::WebP);
        let avatar = process(&upload).expect("accepted");
        assert_eq!(avatar.image_type, ImageType::Png);
        assert_eq!(decoded(&avatar).color(), image::ColorType::Rgb8);
    }

    #[test]
    fn format_is_judged_by_content_only() {
        let png = encode(bands(40, 40).into(), ImageFormat::Png);
        // Whatever a client declares, PNG bytes are a PNG.
        assert_eq!(
            ImageType::from_content_type("image/jpeg"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(process(&png).map(|a| a.image_type), Ok(ImageType::Png));
        // And a text file that claims to be a PNG is not one.
        assert_eq!(
            process(b"image/png avatar.png").map(|a| a.image_type),
            Err(AvatarError::UnsupportedFormat)
        );
    }

    #[test]
    fn other_formats_are_unsupported() {
        let gif: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let svg: &[u8] =
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        let bmp: &[u8] = b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00";
        let riff_wave: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt ";
        for upload in [gif, svg, bmp, riff_wave, b"", b"\x89PN", b"\xff\xd8"] {
            assert_eq!(
                process(upload).map(|a| a.image_type),
                Err(AvatarError::UnsupportedFormat)
            );
        }
    }

    #[test]
    fn size_is_checked_before_anything_else() {
        let limit = AvatarLimits::default().max_upload_bytes;
        assert_eq!(limit, 1024 * 1024);
        // Garbage behind a PNG signature: only the size check can refuse it as too large.
        let mut upload = b"\x89PNG\r\n\x1a\n".to_vec();
        upload.resize(limit + 1, 0xAB);
        assert_eq!(
            process(&upload).map(|a| a.image_type),
            Err(AvatarError::TooLarge { max_bytes: limit })
        );
        upload.truncate(limit);
        assert_eq!(
            process(&upload).map(|a| a.image_type),
            Err(AvatarError::Undecodable)
        );
        assert_eq!(
            process(&vec![b'x'; limit + 1]).map(|a| a.image_type),
            Err(AvatarError::TooLarge { max_bytes: limit })
        );
    }

    #[test]
    fn truncated_images_are_undecodable() {
        let png = encode(noise(200, 200, 1).into(), ImageFormat::Png);
        let jpeg = encode(noise(200, 200, 2).into(), ImageFormat::Jpeg);
        let webp = encode(noise(200, 200, 3).into(), ImageFormat::WebP);
        for upload in [
            &png[..png.len() / 2],
            &png[..40],
            &webp[..webp.len() / 2],
            &jpeg[..100],
        ] {
            assert_eq!(
                process(upload).map(|a| a.image_type),
                Err(AvatarError::Undecodable)
            );
        }
    }

    /// The CRC-32 of PNG chunks (ISO 3309, reflected, polynomial 0xEDB88320).
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        let len = u32::try_from(data.len()).expect("small chunk");
        out.extend_from_slice(&len.to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A PNG of a few dozen bytes whose header declares `width` × `height` RGBA pixels.
    fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        // Bit depth 8, colour type 6 (RGBA), deflate, adaptive filters, no interlace.
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        png_chunk(&mut png, b"IHDR", &ihdr);
        // A zlib stream of a single zero byte: far too little, but never reached.
        png_chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        );
        png_chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        let too_large = Err(AvatarError::DimensionsTooLarge { max: 8192 });
        let bomb = png_bomb(30_000, 30_000);
        assert!(bomb.len() < 100);
        assert_eq!(process(&bomb).map(|a| a.image_type), too_large);
        assert_eq!(
            process(&png_bomb(30_000, 1)).map(|a| a.image_type),
            too_large
        );
        // Within the dimension limit, but 8000 × 8000 RGBA needs 256 MB to decode.
        assert_eq!(
            process(&png_bomb(8000, 8000)).map(|a| a.image_type),
            too_large
        );
        // A small header is read, and fails only where the pixel data is missing.
        assert_eq!(
            process(&png_bomb(100, 100)).map(|a| a.image_type),
            Err(AvatarError::Undecodable)
        );
    }

    #[test]
    fn jpeg_and_webp_dimensions_are_checked_from_the_header() {
        let too_large = Err(AvatarError::DimensionsTooLarge { max: 8192 });
        // A JPEG whose frame header (SOF0) is patched to claim 60000 × 60000 pixels.
        let mut jpeg = encode(bands(16, 16).into(), ImageFormat::Jpeg);
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline JPEG");
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert_eq!(process(&jpeg).map(|a| a.image_type), too_large);

        // A lossless WebP whose header is patched to claim 12000 × 12000 pixels.
        let mut webp = encode(bands(16, 16).into(), ImageFormat::WebP);
        let vp8l = webp
            .windows(4)
            .position(|w| w == b"VP8L")
            .expect("lossless WebP");
        let at = vp8l + 9;
        let mut bits = u32::from_le_bytes(webp[at..at + 4].try_into().expect("four bytes"));
        bits = (bits & !0x0FFF_FFFF) | 11_999 | (11_999 << 14);
        webp[at..at + 4].copy_from_slice(&bits.to_le_bytes());
        assert_eq!(process(&webp).map(|a| a.image_type), too_large);

        // The limit is the caller's.
        let limits = AvatarLimits {
            max_dimension: 80,
            ..AvatarLimits::default()
        };
        let upload = encode(bands(100, 60).into(), ImageFormat::Jpeg);
        assert_eq!(
            process_avatar(&upload, &limits).map(|a| a.image_type),
            Err(AvatarError::DimensionsTooLarge { max: 80 })
        );
    }

    /// An APP1 segment with EXIF: orientation 6 (turn 90° clockwise to display) and an
    /// image description standing in for a GPS position.
    fn exif_segment(secret: &[u8]) -> Vec<u8> {
        let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
        tiff.extend_from_slice(&2u16.to_be_bytes());
        // ImageDescription (0x010E), ASCII, stored after the IFD.
        let secret_offset = 8 + 2 + 2 * 12 + 4;
        tiff.extend_from_slice(&[0x01, 0x0E, 0x00, 0x02]);
        tiff.extend_from_slice(&u32::try_from(secret.len()).expect("short").to_be_bytes());
        tiff.extend_from_slice(&u32::try_from(secret_offset).expect("short").to_be_bytes());
        // Orientation (0x0112), SHORT, 6.
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(secret);
        let mut segment = vec![0xFF, 0xE1];
        let len = u16::try_from(2 + 6 + tiff.len()).expect("short");
        segment.extend_from_slice(&len.to_be_bytes());
        segment.extend_from_slice(b"Exif\0\0");
        segment.extend_from_slice(&tiff);
        segment
    }

    #[test]
    fn exif_is_dropped_and_its_orientation_applied() {
        let secret = b"GPS 51.5007N 0.1246W\0";
        // Red on the left half, blue on the right.
        let image = RgbImage::from_fn(100, 60, |x, _| {
            if x < 50 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let jpeg = encode(image.into(), ImageFormat::Jpeg);
        let mut upload = jpeg[..2].to_vec();
        upload.extend(exif_segment(secret));
        upload.extend_from_slice(&jpeg[2..]);
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&upload, b"Exif\0\0") && contains(&upload, b"GPS 51"));

        let avatar = process(&upload).expect("accepted");
        assert_eq!(avatar.image_type, ImageType::Jpeg);
        assert!(!contains(&avatar.bytes, b"Exif"));
        assert!(!contains(&avatar.bytes, b"GPS 51"));
        // Turned clockwise, the left (red) side is on top.
        let out = decoded(&avatar).into_rgb8();
        assert_eq!(out.dimensions(), (60, 60));
        assert!(close(*out.get_pixel(30, 5), [255, 0, 0]));
        assert!(close(*out.get_pixel(30, 54), [0, 0, 255]));
    }

    #[test]
    fn png_metadata_is_dropped() {
        let png = encode(bands(50, 50).into(), ImageFormat::Png);
        // A text chunk inserted after IHDR (8 signature bytes + 25 bytes of IHDR chunk).
        let mut upload = png[..33].to_vec();
        png_chunk(&mut upload, b"tEXt", b"Comment\0secret location");
        upload.extend_from_slice(&png[33..]);
        let avatar = process(&upload).expect("accepted");
        assert!(!avatar.bytes.windows(6).any(|w| w == b"secret"));
        assert!(!avatar.bytes.windows(4).any(|w| w == b"tEXt"));
    }

    #[test]
    fn output_size_is_configurable() {
        let limits = AvatarLimits {
            output_size: 32,
            ..AvatarLimits::default()
        };
        let upload = encode(noise(300, 200, 4).into(), ImageFormat::Png);
        let avatar = process_avatar(&upload, &limits).expect("accepted");
        assert_eq!(decoded(&avatar).dimensions(), (32, 32));
        // A zero size is read as one pixel rather than refused or panicking.
        let limits = AvatarLimits {
            output_size: 0,
            ..AvatarLimits::default()
        };
        let avatar = process_avatar(&upload, &limits).expect("accepted");
        assert_eq!(decoded(&avatar).dimensions(), (1, 1));
    }

    #[test]
    fn garbage_behind_a_signature_is_an_error_not_a_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let signatures: [&[u8]; 3] = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBP"];
        for i in 0..300 {
            let mut upload = signatures[i % 3].to_vec();
            let len = rng.random_range(0..4096);
            upload.extend((0..len).map(|_| rng.random::<u8>()));
            // The signature is recognised, so the refusal is about the content: unreadable,
            // or claiming dimensions too large to decode.
            let result = process(&upload);
            assert!(
                matches!(
                    result,
                    Err(AvatarError::Undecodable | AvatarError::DimensionsTooLarge { .. })
                ),
                "iteration {i}: {:?}",
                result.map(|_| "accepted")
            );
        }
    }

    #[test]
    fn damaged_images_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let image: DynamicImage = noise(48, 32, 5).into();
        let originals = [
            encode(image.clone(), ImageFormat::Png),
            encode(image.clone(), ImageFormat::Jpeg),
            encode(image, ImageFormat::WebP),
        ];
        for i in 0..300 {
            let mut upload = originals[i % 3].clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..upload.len());
                upload[at] = rng.random();
            }
            if rng.random_bool(0.3) {
                upload.truncate(rng.random_range(1..upload.len()));
            }
            // Some damage leaves a readable image; what matters is an answer.
            if let Ok(avatar) = process(&upload) {
                assert_eq!(ImageType::detect(&avatar.bytes), Some(avatar.image_type));
            }
        }
    }

    #[test]
    fn content_types_and_codes_are_stable() {
        for t in [ImageType::Png, ImageType::Jpeg, ImageType::WebP] {
            assert_eq!(ImageType::from_content_type(t.content_type()), Some(t));
        }
        assert_eq!(
            ImageType::from_content_type(" IMAGE/PNG ; charset=binary"),
            Some(ImageType::Png)
        );
        assert_eq!(ImageType::from_content_type("image/gif"), None);
        assert_eq!(ImageType::from_content_type("image/svg+xml"), None);
        let codes = [
            AvatarError::TooLarge { max_bytes: 1 }.code(),
            AvatarError::UnsupportedFormat.code(),
            AvatarError::DimensionsTooLarge { max: 1 }.code(),
            AvatarError::Undecodable.code(),
        ];
        assert_eq!(
            codes,
            [
                "avatar_too_large",
                "avatar_unsupported_format",
                "avatar_dimensions_too_large",
                "avatar_undecodable"
            ]
        );
    }

    #[test]
    fn debug_shows_type_and_length_only() {
        let avatar = Avatar {
            image_type: ImageType::Png,
            bytes: vec![7; 1234],
        };
        assert_eq!(
            format!("{avatar:?}"),
            "Avatar { image_type: Png, len: 1234 }"
        );
    }
}
