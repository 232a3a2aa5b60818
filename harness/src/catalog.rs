//! Catalogues of named data files: impairment profiles and settings presets. Each comes from
//! the files compiled into the binary, or from a directory of the user's own.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use jitterbug_core::preset::{Preset, PresetError};
use jitterbug_core::profile::{Profile, ProfileError};

/// A kind of named TOML item.
pub trait Item: Sized {
    /// "profile" or "preset", for messages.
    const KIND: &'static str;
    /// Repository directory the embedded files came from, for messages.
    const DIR: &'static str;
    fn embedded() -> &'static [(&'static str, &'static str, &'static str)];
    fn parse(name: &str, text: &str, shown: &Path) -> Result<Self, CatalogError>;
    fn load(path: &Path) -> Result<Self, CatalogError>;
}

impl Item for Profile {
    const KIND: &'static str = "profile";
    const DIR: &'static str = "netem-profiles";
    fn embedded() -> &'static [(&'static str, &'static str, &'static str)] {
        crate::embedded::PROFILES
    }
    fn parse(name: &str, text: &str, shown: &Path) -> Result<Self, CatalogError> {
        Ok(Profile::parse(name, text, shown, None)?)
    }
    fn load(path: &Path) -> Result<Self, CatalogError> {
        Ok(Profile::load(path)?)
    }
}

impl Item for Preset {
    const KIND: &'static str = "preset";
    const DIR: &'static str = "agent-under-test/presets";
    fn embedded() -> &'static [(&'static str, &'static str, &'static str)] {
        crate::embedded::PRESETS
    }
    fn parse(name: &str, text: &str, shown: &Path) -> Result<Self, CatalogError> {
        Ok(Preset::parse(name, text, shown)?)
    }
    fn load(path: &Path) -> Result<Self, CatalogError> {
        Ok(Preset::load(path)?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error("{dir}: cannot list files: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown { kind: &'static str, name: String, known: String },
}

/// An item's name and whether it loaded.
pub type Checked<T> = (String, Result<T, CatalogError>);

/// Named items: the embedded ones, or every `*.toml` in a directory.
#[derive(Debug, Clone)]
pub struct Catalog<T> {
    dir: Option<PathBuf>,
    kind: PhantomData<T>,
}

pub type Profiles = Catalog<Profile>;
pub type Presets = Catalog<Preset>;

/// A name that is really a path to a file.
fn is_path(name: &str) -> bool {
    name.ends_with(".toml") || name.contains('/')
}

impl<T: Item> Catalog<T> {
    /// The embedded items, or those in `dir`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Catalog { dir, kind: PhantomData }
    }

    pub fn embedded() -> Self {
        Catalog::new(None)
    }

    /// Names, sorted.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        Ok(match &self.dir {
            None => T::embedded().iter().map(|(n, _, _)| n.to_string()).collect(),
            Some(dir) => toml_files(dir)?
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect(),
        })
    }

    /// Every item, failing on the first invalid one.
    pub fn all(&self) -> Result<Vec<T>, CatalogError> {
        self.names()?.iter().map(|n| self.get(n)).collect()
    }

    /// Every item's load result (for `check`).
    pub fn check(&self) -> Result<Vec<Checked<T>>, CatalogError> {
        Ok(self.names()?.into_iter().map(|n| (n.clone(), self.get(&n))).collect())
    }

    /// An item by name, or by path when `name` looks like a file (`*.toml` or contains `/`).
    pub fn get(&self, name: &str) -> Result<T, CatalogError> {
        if is_path(name) {
            return T::load(Path::new(name));
        }
        match &self.dir {
            None => {
                let (_, file, text) =
                    T::embedded().iter().find(|(n, _, _)| *n == name).ok_or_else(|| self.unknown(name))?;
                T::parse(name, text, &Path::new(T::DIR).join(file))
            }
            Some(dir) => {
                let path = dir.join(format!("{name}.toml"));
                if !path.exists() {
                    return Err(self.unknown(name));
                }
                T::load(&path)
            }
        }
    }

    /// The TOML text of an item, as written.
    pub fn text(&self, name: &str) -> Result<String, CatalogError> {
        let path = match &self.dir {
            _ if is_path(name) => PathBuf::from(name),
            None => {
                return T::embedded()
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, _, t)| t.to_string())
                    .ok_or_else(|| self.unknown(name));
            }
            Some(dir) => dir.join(format!("{name}.toml")),
        };
        std::fs::read_to_string(&path).map_err(|source| CatalogError::Read { file: path, source })
    }

    fn unknown(&self, name: &str) -> CatalogError {
        CatalogError::Unknown {
            kind: T::KIND,
            name: name.to_string(),
            known: self.names().map(|n| n.join(", ")).unwrap_or_default(),
        }
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CatalogError::Dir { dir: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> =
        rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}
