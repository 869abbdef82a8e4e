//! Request bodies read as the API documents them: a struct only from a JSON object.
//!
//! serde's derived structs also accept a JSON array, read field by field in declaration
//! order, and serde_json offers it. So `["alice", "the password"]` would sign in where
//! `{"login": ..., "password": ...}` is documented, and `["New name", null]` would change a
//! display name: an input no schema describes, which a filter or a log reading the body
//! by field names would not see (SECURITY.md M49). [`from_slice`] wraps serde_json's
//! deserializer so that, at every depth, a struct (or an enum's struct variant) is read
//! from an object or refused with serde's "invalid type" error; arrays of values stay
//! arrays.
//!
//! The wrapper passes every call through unchanged except that it wraps what it hands on
//! (visitors, seeds, the accessors of arrays, objects and enums), so that the rule reaches
//! nested values too. It holds for the request types of this crate, which use no
//! `#[serde(flatten)]` and no internally tagged or untagged enum (those buffer the input
//! and read the buffered struct without asking this deserializer).

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// Parses `bytes` as one JSON value of type `T`, structs from objects only.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Objects::new(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Wraps a deserializer, a visitor, a seed or an accessor. `structure` is set on the
/// visitor of a struct: it refuses an array.
struct Objects<T> {
    inner: T,
    structure: bool,
}

impl<T> Objects<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            structure: false,
        }
    }

    fn structure(inner: T) -> Self {
        Self {
            inner,
            structure: true,
        }
    }
}

/// The deserializer's methods that take only a visitor, passed on with it wrapped.
macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(Objects::new(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Objects<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_unit_struct(name, Objects::new(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_newtype_struct(name, Objects::new(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.deserialize_tuple(len, Objects::new(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_tuple_struct(name, len, Objects::new(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_struct(name, fields, Objects::structure(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_enum(name, variants, Objects::new(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The visitor's methods that take a plain value, passed on.
macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Objects<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Objects::new(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Objects::new(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.structure {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        self.inner.visit_seq(Objects::new(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Objects::new(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Objects::new(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Objects<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(Objects::new(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.inner.next_element_seed(Objects::new(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.inner.next_key_seed(Objects::new(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.next_value_seed(Objects::new(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Objects<A> {
    type Error = A::Error;
    type Variant = Objects<A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Self::Error> {
        let (value, variant) = self.inner.variant_seed(Objects::new(seed))?;
        Ok((value, Objects::new(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.inner.newtype_variant_seed(Objects::new(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.tuple_variant(len, Objects::new(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .struct_variant(fields, Objects::structure(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_slice;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Login {
        login: String,
        password: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: Option<String>,
        inner: Option<Inner>,
        list: Vec<Inner>,
        names: Vec<String>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        minutes: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Timed { minutes: u32 },
    }

    #[test]
    fn a_struct_is_read_from_an_object() {
        let login: Login = from_slice(br#"{"login":"alice","password":"p"}"#).unwrap();
        assert_eq!(login.login, "alice");
        let outer: Outer = from_slice(
            br#"{"name":null,"inner":{"minutes":5},"list":[{"minutes":1},{"minutes":2}],"names":["a","b"],"kind":{"timed":{"minutes":3}}}"#,
        )
        .unwrap();
        assert_eq!(outer.inner, Some(Inner { minutes: 5 }));
        assert_eq!(outer.list.len(), 2);
        assert_eq!(outer.names, ["a", "b"]);
        assert_eq!(outer.kind, Some(Kind::Timed { minutes: 3 }));
        let plain: Outer =
            from_slice(br#"{"name":"x","inner":null,"list":[],"names":[],"kind":"plain"}"#)
                .unwrap();
        assert_eq!(plain.kind, Some(Kind::Plain));
    }

    #[test]
    fn a_struct_is_never_read_from_an_array() {
        // serde_json alone takes each of these.
        assert!(serde_json::from_slice::<Login>(br#"["alice","p"]"#).is_ok());
        for body in [
            &br#"["alice","p"]"#[..],
            br#"{"name":null,"inner":[5],"list":[],"names":[]}"#,
            br#"{"name":null,"inner":null,"list":[[1]],"names":[]}"#,
            br#"{"name":null,"inner":null,"list":[],"names":[],"kind":{"timed":[3]}}"#,
            br#"["x",null,[],[]]"#,
        ] {
            let error = from_slice::<Outer>(body).expect_err("refused");
            assert!(
                error.to_string().contains("invalid type: sequence"),
                "{}: {error}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(from_slice::<Login>(br#"["alice","p"]"#).is_err());
    }

    #[test]
    fn trailing_input_is_refused() {
        assert!(from_slice::<Login>(br#"{"login":"a","password":"p"} x"#).is_err());
    }
}
