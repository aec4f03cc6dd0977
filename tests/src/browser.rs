//! A real headless Chromium (Debian's `chromium`) driven through
//! `chromedriver` over WebDriver, for the console's browser tests. Each test
//! starts its own chromedriver on a free port; it is killed when dropped.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Debian's chromium and its driver, where `scripts/test` installs them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    /// A fresh headless browser (its own profile: no cookies).
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start chromedriver (apt-get install chromium-driver): {e}")
            })?;
        let url = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1440,1000", "--hide-scrollbars"],
            }),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    anyhow::bail!("no WebDriver session from chromedriver: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Ok(Self {
            client,
            _driver: driver,
        })
    }

    /// Logs in to the console at `base` (e.g. `http://127.0.0.1:1234`) with `token`.
    pub async fn log_in(&self, base: &str, token: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{base}/console/login")).await?;
        self.client
            .find(Locator::Css("#token"))
            .await?
            .send_keys(token)
            .await?;
        self.click_to("#login", "/console/tenants").await?;
        anyhow::ensure!(
            self.has("#access").await?,
            "not logged in: {}",
            self.client.source().await?
        );
        Ok(())
    }

    /// Clicks what `css` finds, then waits until the page it leads to is
    /// the one whose address contains `part`: chromedriver may answer a
    /// click before the navigation it starts, and a find in between would
    /// search the page being left.
    pub async fn click_to(&self, css: &str, part: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        self.wait_for_url(part).await
    }

    /// Waits (up to 10 s) until the page's address contains `part`: a
    /// submitted GET form is only then the page that elements are found on.
    pub async fn wait_for_url(&self, part: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.client.current_url().await?.as_str().contains(part) {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the page did not go to …{part}…"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Whether the page has an element matching `css`.
    pub async fn has(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Saves a screenshot as `name`.png in `CONSOLE_SCREENSHOTS`, when set
    /// (how docs/ gets its pictures).
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        let Some(dir) = std::env::var_os("CONSOLE_SCREENSHOTS") else {
            return Ok(());
        };
        // The whole page, not only the window: as tall as its content.
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await?
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 2400);
        self.client
            .set_window_size(1440, height as u32 + 90)
            .await?;
        let png = self.client.screenshot().await?;
        let path = PathBuf::from(dir).join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(())
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.client.close().await?;
        Ok(())
    }
}
