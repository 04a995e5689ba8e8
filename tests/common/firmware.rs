//! Firmware fixtures: synthetic app images with a valid `esp_app_desc_t`, bundles built member
//! by member (so each test can break exactly one thing), and raw ZIP patching for the
//! malicious cases a ZIP writer refuses to produce.
#![allow(dead_code)]

use std::io::Write;

use zip::write::SimpleFileOptions;

use super::{Resp, TestApp};

/// An app image (upstream's 288-byte fixture) followed by `extra` filler bytes.
pub fn image(version: &str, extra: usize) -> Vec<u8> {
    crashbox::firmware::app_image::synthetic_image(version, extra)
}

/// The corpus ELF when present, else a few bytes that start like one.
pub fn corpus_elf() -> Vec<u8> {
    super::corpus_dir()
        .and_then(|d| std::fs::read(d.join("esp32c3/app.elf")).ok())
        .unwrap_or_else(|| b"\x7fELF\x01\x01\x01 small stand-in".to_vec())
}

/// A bundle under construction: named members in order.
#[derive(Clone)]
pub struct Bundle {
    pub members: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    /// A valid bundle for model `code` whose image says `version`.
    pub fn new(code: &str, version: &str) -> Bundle {
        Bundle::with_image(code, version, image(version, 1000))
    }

    pub fn with_image(code: &str, version: &str, bin: Vec<u8>) -> Bundle {
        Bundle {
            members: vec![
                (format!("{code}.bin"), bin),
                (format!("{code}.elf"), b"\x7fELF fake elf for tests".to_vec()),
                (format!("{code}.map"), b"Memory map".to_vec()),
                ("sdkconfig".into(), b"CONFIG_IDF_TARGET=\"esp32c3\"\n".to_vec()),
                (
                    "version.json".into(),
                    format!(
                        r#"{{"git_commit":"abc123","idf_version":"v5.1.2","firmware_version":"{version}"}}"#
                    )
                    .into_bytes(),
                ),
            ],
        }
    }

    /// Replaces (or adds) a member.
    pub fn set(mut self, name: &str, data: impl Into<Vec<u8>>) -> Bundle {
        let data = data.into();
        match self.members.iter_mut().find(|(n, _)| n == name) {
            Some(m) => m.1 = data,
            None => self.members.push((name.to_string(), data)),
        }
        self
    }

    pub fn without(mut self, name: &str) -> Bundle {
        self.members.retain(|(n, _)| n != name);
        self
    }

    pub fn get(&self, name: &str) -> Vec<u8> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .expect("member")
    }

    pub fn zip(&self) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        for (name, data) in &self.members {
            w.start_file(name.as_str(), opts).expect("start member");
            w.write_all(data).expect("write member");
        }
        w.finish().expect("finish zip").into_inner()
    }
}

/// Sets the uncompressed size a ZIP's central directory declares for `name` (32-bit field).
pub fn patch_declared_size(zip: &mut [u8], name: &str, size: u32) {
    let sig = b"PK\x01\x02";
    let mut i = 0;
    while i + 46 <= zip.len() {
        if &zip[i..i + 4] == sig {
            let name_len = u16::from_le_bytes([zip[i + 28], zip[i + 29]]) as usize;
            if &zip[i + 46..i + 46 + name_len] == name.as_bytes() {
                zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                return;
            }
        }
        i += 1;
    }
    panic!("no central directory entry for {name}");
}

/// Replaces every occurrence of `from` by `to` (same length) in the raw ZIP bytes.
pub fn patch_bytes(zip: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= zip.len() {
        if &zip[i..i + from.len()] == from {
            zip[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
}

/// A multipart/form-data body with one file field; returns (content type, body).
pub fn multipart(field: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----crashboxtestboundary7MA4YWxk";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"fw.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Uploads firmware as the pipeline does (raw body).
    pub fn upload_firmware(&self, code: &str, body: &[u8]) -> Resp {
        self.post(
            &format!("/api/pipeline/models/{code}/firmware"),
            Some(&self.pipeline),
            "application/zip",
            body,
        )
    }

    /// Uploads and asserts a 200.
    pub fn upload_firmware_ok(&self, code: &str, body: &[u8]) -> serde_json::Value {
        let r = self.upload_firmware(code, body);
        assert_eq!(r.status, 200, "firmware upload: {}", r.text());
        r.json()
    }

    /// `ASSETS_DIR/...`
    pub fn asset(&self, rel: &str) -> std::path::PathBuf {
        self.config.assets_dir.join(rel)
    }

    /// The versions the admin API lists for a model.
    pub fn firmware_versions(&self, code: &str) -> Vec<String> {
        let r = self.get(&format!("/api/models/{code}/firmware"), Some(&self.admin));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["version"].as_str().expect("version").to_string())
            .collect()
    }
}
