//! Reads a command's `arguments` object into its typed argument struct with
//! qemu-ga's visitor semantics: members are visited in schema order, so the
//! first missing or mistyped member (named with its full path, such as
//! `vcpus[0].online`) is the one reported, and unexpected members are
//! reported only after every declared one passed.

use protocol::QgaError;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Decodes `arguments` (absent means `{}`) into `T`.
pub fn decode<T: DeserializeOwned>(arguments: Option<&Map<String, Value>>) -> Result<T, QgaError> {
    let empty = Map::new();
    let root = ArgDeserializer {
        value: Some(Slot::Object(arguments.unwrap_or(&empty))),
        path: String::new(),
    };
    T::deserialize(root).map_err(|e| e.resolve(""))
}

#[derive(Debug)]
pub enum ArgError {
    Final(QgaError),
    /// Raised by a visitor that cannot know where it is; the deserializer
    /// that called it fills in the path.
    UnknownVariant(String),
    /// A visitor refused the value's type; holds the expected type's name.
    WrongType(String),
    Custom(String),
}

impl ArgError {
    fn resolve(self, path: &str) -> QgaError {
        match self {
            ArgError::Final(e) => e,
            ArgError::UnknownVariant(v) => QgaError::parameter_bad_enum(path, &v),
            ArgError::WrongType(expected) => QgaError::parameter_type(path, &expected),
            ArgError::Custom(msg) => QgaError::generic(msg),
        }
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ArgError {}

impl de::Error for ArgError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        ArgError::Custom(msg.to_string())
    }

    fn invalid_type(_unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        ArgError::WrongType(expected.to_string())
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        ArgError::UnknownVariant(variant.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        // Only reached for fields serde fills in itself; ours are visited.
        ArgError::Final(QgaError::parameter_missing(field))
    }
}

#[derive(Clone, Copy)]
enum Slot<'a> {
    Value(&'a Value),
    Object(&'a Map<String, Value>),
}

impl<'a> Slot<'a> {
    fn object(self) -> Option<&'a Map<String, Value>> {
        match self {
            Slot::Object(m) => Some(m),
            Slot::Value(Value::Object(m)) => Some(m),
            Slot::Value(_) => None,
        }
    }

    fn value(self) -> Option<&'a Value> {
        match self {
            Slot::Value(v) => Some(v),
            Slot::Object(_) => None,
        }
    }
}

/// One member (possibly absent) and its full name.
struct ArgDeserializer<'a> {
    value: Option<Slot<'a>>,
    path: String,
}

impl<'a> ArgDeserializer<'a> {
    fn present(&self) -> Result<Slot<'a>, ArgError> {
        self.value
            .ok_or_else(|| ArgError::Final(QgaError::parameter_missing(&self.path)))
    }

    fn wrong_type(&self, expected: &str) -> ArgError {
        ArgError::Final(QgaError::parameter_type(&self.path, expected))
    }

    fn resolved<T>(&self, r: Result<T, ArgError>) -> Result<T, ArgError> {
        r.map_err(|e| ArgError::Final(e.resolve(&self.path)))
    }

    fn member(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }
}

impl<'de, 'a> de::Deserializer<'de> for ArgDeserializer<'a> {
    type Error = ArgError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        let slot = self.present()?;
        let r = match slot {
            Slot::Object(_) => return self.deserialize_map(visitor),
            Slot::Value(Value::Object(_)) => return self.deserialize_map(visitor),
            Slot::Value(Value::Array(_)) => return self.deserialize_seq(visitor),
            Slot::Value(Value::Null) => visitor.visit_unit(),
            Slot::Value(Value::Bool(b)) => visitor.visit_bool(*b),
            Slot::Value(Value::String(s)) => visitor.visit_str(s),
            Slot::Value(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(0.0))
                }
            }
        };
        self.resolved(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.present()?.value() {
            Some(Value::Bool(b)) => visitor.visit_bool(*b),
            _ => Err(self.wrong_type("boolean")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.present()?.value().and_then(Value::as_i64) {
            Some(i) => visitor.visit_i64(i),
            None => Err(self.wrong_type("integer")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        // qemu-ga also takes a negative int64 for a uint64, for compatibility.
        let value = self.present()?.value();
        let n = value
            .and_then(Value::as_u64)
            .or_else(|| value.and_then(Value::as_i64).map(|i| i as u64));
        match n {
            Some(u) => visitor.visit_u64(u),
            None => Err(ArgError::Final(QgaError::generic(format!(
                "Parameter '{}' expects uint64",
                self.path
            )))),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.present()?.value().and_then(Value::as_f64) {
            Some(f) => visitor.visit_f64(f),
            None => Err(self.wrong_type("number")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.present()?.value() {
            Some(Value::String(s)) => visitor.visit_str(s),
            _ => Err(self.wrong_type("string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        // An optional member that is present must have the right type:
        // `null` is not "absent".
        match self.value {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.present()?.value() {
            Some(Value::Array(items)) => {
                let r = visitor.visit_seq(Elements {
                    items: items.iter().enumerate(),
                    path: &self.path,
                });
                self.resolved(r)
            }
            _ => Err(self.wrong_type("array")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        let Some(map) = self.present()?.object() else {
            return Err(self.wrong_type("object"));
        };
        let r = visitor.visit_map(Members {
            fields: map.keys().map(String::as_str).collect(),
            next: 0,
            map,
            parent: &self,
            current: None,
        });
        self.resolved(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        let Some(map) = self.present()?.object() else {
            return Err(self.wrong_type("object"));
        };
        let value = visitor.visit_map(Members {
            fields: fields.to_vec(),
            next: 0,
            map,
            parent: &self,
            current: None,
        })?;
        if let Some(extra) = map.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(ArgError::Final(QgaError::parameter_unexpected(
                &self.member(extra),
            )));
        }
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        match self.present()?.value() {
            Some(Value::String(s)) => {
                let r = visitor.visit_enum(s.as_str().into_deserializer());
                self.resolved(r)
            }
            _ => Err(self.wrong_type("string")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct identifier
    }
}

/// Visits declared members in declaration order, absent ones included, so
/// the first problem in schema order is the one reported.
struct Members<'a, 'p> {
    fields: Vec<&'a str>,
    next: usize,
    map: &'a Map<String, Value>,
    parent: &'p ArgDeserializer<'a>,
    current: Option<&'a str>,
}

impl<'de, 'a, 'p> de::MapAccess<'de> for Members<'a, 'p> {
    type Error = ArgError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ArgError> {
        let Some(&field) = self.fields.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.current = Some(field);
        let key: de::value::StrDeserializer<'_, ArgError> = field.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ArgError> {
        let field = self.current.take().unwrap_or_default();
        seed.deserialize(ArgDeserializer {
            value: self.map.get(field).map(Slot::Value),
            path: self.parent.member(field),
        })
    }
}

struct Elements<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    path: &'p str,
}

impl<'de, 'a, 'p> de::SeqAccess<'de> for Elements<'a, 'p> {
    type Error = ArgError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ArgError> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(ArgDeserializer {
            value: Some(Slot::Value(item)),
            path: format!("{}[{i}]", self.path),
        })
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::qga::*;
    use serde_json::json;

    fn args<T: DeserializeOwned>(v: Value) -> Result<T, String> {
        let Value::Object(m) = v else { panic!() };
        decode::<T>(Some(&m)).map_err(|e| e.desc)
    }

    #[test]
    fn qemu_ga_argument_errors() {
        assert_eq!(
            args::<SyncArgs>(json!({})).unwrap_err(),
            "Parameter 'id' is missing"
        );
        assert_eq!(
            args::<SyncArgs>(json!({"id": 1.5})).unwrap_err(),
            "Invalid parameter type for 'id', expected: integer"
        );
        assert_eq!(
            args::<SyncArgs>(json!({"id": 18446744073709551615u64})).unwrap_err(),
            "Invalid parameter type for 'id', expected: integer"
        );
        assert_eq!(
            args::<SyncArgs>(json!({"id": 1, "x": 2})).unwrap_err(),
            "Parameter 'x' is unexpected"
        );
        // declared members are checked before unexpected ones
        assert_eq!(
            args::<SyncArgs>(json!({"x": 2})).unwrap_err(),
            "Parameter 'id' is missing"
        );
        assert_eq!(args::<SyncArgs>(json!({"id": -7})).unwrap().id, -7);
        assert_eq!(
            args::<NoArgs>(json!({"a": 1})).unwrap_err(),
            "Parameter 'a' is unexpected"
        );
    }

    #[test]
    fn schema_order_not_input_order() {
        // handle (missing) comes before buf-b64 (wrong type) in the schema
        assert_eq!(
            args::<FileWriteArgs>(json!({"buf-b64": 5})).unwrap_err(),
            "Parameter 'handle' is missing"
        );
        assert_eq!(
            args::<FileWriteArgs>(json!({"handle": 1, "buf-b64": 5})).unwrap_err(),
            "Invalid parameter type for 'buf-b64', expected: string"
        );
        assert_eq!(
            args::<ShutdownArgs>(json!({"mode": null})).unwrap_err(),
            "Invalid parameter type for 'mode', expected: string"
        );
        assert!(args::<ShutdownArgs>(json!({})).unwrap().mode.is_none());
    }

    #[test]
    fn whence_is_an_integer_or_a_name() {
        let whence = |v: Value| {
            args::<FileSeekArgs>(json!({"handle": 1, "offset": 0, "whence": v}))
                .map(|a| a.whence.code())
        };
        assert_eq!(whence(json!(7)), Ok(7));
        assert_eq!(whence(json!("end")), Ok(2));
        assert_eq!(
            whence(json!("middle")).unwrap_err(),
            "Parameter 'whence' does not accept value 'middle'"
        );
        assert_eq!(
            whence(json!(1.5)).unwrap_err(),
            "Invalid parameter type for 'whence', expected: integer"
        );
        assert_eq!(
            whence(json!(u64::MAX)).unwrap_err(),
            "Invalid parameter type for 'whence', expected: integer"
        );
        for v in [json!(true), json!(null), json!([]), json!({})] {
            assert_eq!(
                whence(v).unwrap_err(),
                "Invalid parameter type for 'whence', expected: GuestFileWhence"
            );
        }
    }

    #[test]
    fn nested_paths() {
        assert_eq!(
            args::<SetVcpusArgs>(
                json!({"vcpus": [{"logical-id": 0, "online": true}, {"logical-id": 1}]})
            )
            .unwrap_err(),
            "Parameter 'vcpus[1].online' is missing"
        );
        assert_eq!(
            args::<SetVcpusArgs>(json!({"vcpus": [{"logical-id": 0, "online": true, "z": 1}]}))
                .unwrap_err(),
            "Parameter 'vcpus[0].z' is unexpected"
        );
        assert_eq!(
            args::<SetVcpusArgs>(json!({"vcpus": {}})).unwrap_err(),
            "Invalid parameter type for 'vcpus', expected: array"
        );
        assert_eq!(
            args::<SetMemoryBlocksArgs>(json!({"mem-blks": [{"phys-index": "x", "online": true}]}))
                .unwrap_err(),
            "Parameter 'mem-blks[0].phys-index' expects uint64"
        );
    }
}
