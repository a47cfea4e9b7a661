// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small XML helpers over pugixml for S3 request and response bodies.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace pugi {
class xml_document;
class xml_node;
}  // namespace pugi

namespace strongroom::s3 {

// Builds one response document: <Root xmlns="http://s3.amazonaws.com/doc/2006-03-01/">…
class XmlWriter {
 public:
  explicit XmlWriter(std::string_view root, bool with_namespace = true);
  ~XmlWriter();
  // Adds <name>value</name> under the current element.
  XmlWriter& Add(std::string_view name, std::string_view value);
  // Opens <name> as the current element until End().
  XmlWriter& Begin(std::string_view name);
  XmlWriter& End();
  std::string Finish();

 private:
  std::unique_ptr<pugi::xml_document> doc_;
  std::vector<pugi::xml_node> stack_;
};

// A parsed request body. Element names are matched without namespaces.
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;
  // The first child named `name`, or nullptr.
  const XmlElement* Child(std::string_view child_name) const;
};

// kInvalidArgument with reason MalformedXML on any parse error.
Result<XmlElement> ParseXml(std::string_view text);

}  // namespace strongroom::s3
