//! A real window: `cvm-console demo` under Xvfb (wgpu on the CPU), screenshotted with
//! ImageMagick's `import`. The test pattern's colour bars must show in the Screen tab and
//! the SIMULATED banner's orange must be there. With UPDATE_SCREENSHOT=1 the passing
//! screenshot is saved as docs/screenshot.png (the README shows it).
//!
//! Needs: xvfb xauth imagemagick mesa-vulkan-drivers libvulkan1 libgl1-mesa-dri libegl1
//! libegl-mesa0 libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxi6 libxrandr2.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pattern's bars (guest-server/src/display/pattern.rs), left to right.
const BARS: [(u8, u8, u8); 8] =
    [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)];
/// `cvm_console::gui::app::BANNER_FILL`.
const BANNER: (u8, u8, u8) = (0xff, 0x8c, 0x00);

/// Kills the process it holds when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Image {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn px(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.w + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

fn near(a: (u8, u8, u8), b: (u8, u8, u8)) -> bool {
    a.0.abs_diff(b.0) <= 40 && a.1.abs_diff(b.1) <= 40 && a.2.abs_diff(b.2) <= 40
}

/// Read a binary PPM (P6, maxval 255) as `import` writes it.
fn read_ppm(path: &Path) -> Option<Image> {
    let bytes = std::fs::read(path).ok()?;
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes.get(i)? != &b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    if fields[0] != "P6" || fields[3] != "255" {
        return None;
    }
    let (w, h): (usize, usize) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    let rgb = bytes.get(i + 1..i + 1 + w * h * 3)?.to_vec();
    Some(Image { w, h, rgb })
}

/// A row with the eight bars in order, each at least 8 pixels wide (short blends between
/// them, from the scaling filter, are skipped).
fn bars_row(img: &Image) -> Option<usize> {
    (0..img.h).find(|&y| {
        let mut runs: Vec<(Option<usize>, usize)> = Vec::new();
        for x in 0..img.w {
            let class = BARS.iter().position(|b| near(img.px(x, y), *b));
            match runs.last_mut() {
                Some((k, n)) if *k == class => *n += 1,
                _ => runs.push((class, 1)),
            }
        }
        let long: Vec<usize> = runs.iter().filter(|(_, n)| *n >= 8).filter_map(|(k, _)| *k).collect();
        long.windows(BARS.len()).any(|w| w == [0, 1, 2, 3, 4, 5, 6, 7])
    })
}

fn banner_pixels(img: &Image) -> usize {
    (0..img.h).flat_map(|y| (0..img.w).map(move |x| (x, y))).filter(|&(x, y)| img.px(x, y) == BANNER).count()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cvmc-gui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn demo_window_shows_the_pattern_and_the_simulated_banner() {
    assert!(
        Command::new("Xvfb").arg("-help").stderr(Stdio::null()).status().is_ok(),
        "Xvfb is missing: apt-get install xvfb xauth imagemagick mesa-vulkan-drivers libvulkan1 libgl1-mesa-dri \
         libegl1 libegl-mesa0 libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxi6 libxrandr2"
    );
    let display = format!(":{}", 90 + std::process::id() % 100);
    let _xvfb = Killed(
        Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let config = temp_dir("config");
    let runtime = temp_dir("runtime");
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let log = config.join("demo.log");
    let _demo = Killed(
        Command::new(env!("CARGO_BIN_EXE_cvm-console"))
            .arg("demo")
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("SHELL", "/bin/sh")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(config.join("demo.err")).unwrap())
            .spawn()
            .unwrap(),
    );

    let shot = config.join("shot.ppm");
    let started = Instant::now();
    let mut last = String::from("no screenshot yet");
    while started.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_secs(1));
        let ok = Command::new("import")
            .args(["-display", &display, "-window", "root", "-depth", "8"])
            .arg(format!("ppm:{}", shot.display()))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let Some(img) = ok.then(|| read_ppm(&shot)).flatten() else { continue };
        let (bars, banner) = (bars_row(&img), banner_pixels(&img));
        last = format!("bars row {bars:?}, {banner} banner pixels");
        if bars.is_some() && banner > 20_000 {
            // The README's picture is refreshed only on request (UPDATE_SCREENSHOT=1), so
            // an ordinary test run leaves the tree clean.
            if std::env::var_os("UPDATE_SCREENSHOT").is_none() {
                let _ = std::fs::remove_dir_all(&config);
                let _ = std::fs::remove_dir_all(&runtime);
                return;
            }
            // The first full frame arrives in pieces in a debug build: let it finish for the picture.
            std::thread::sleep(Duration::from_secs(5));
            let again = Command::new("import")
                .args(["-display", &display, "-window", "root", "-depth", "8"])
                .arg(format!("ppm:{}", shot.display()))
                .status()
                .unwrap();
            assert!(again.success());
            let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshot.png");
            let saved = Command::new("convert").arg(&shot).arg(&out).status().unwrap();
            assert!(saved.success(), "convert to {}", out.display());
            eprintln!("window ready after {:.1} s: {last}", started.elapsed().as_secs_f32());
            let _ = std::fs::remove_dir_all(&config);
            let _ = std::fs::remove_dir_all(&runtime);
            return;
        }
    }
    let err = std::fs::read_to_string(config.join("demo.err")).unwrap_or_default();
    let tail: String = err.lines().rev().take(20).collect::<Vec<_>>().join("\n");
    panic!("the demo window never showed the pattern and the banner ({last}); stderr tail:\n{tail}");
}
