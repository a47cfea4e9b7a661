// SPDX-License-Identifier: Apache-2.0
#include "s3/xml.h"

#include <sstream>

#include <pugixml.hpp>

#include "s3/errors.h"

namespace strongroom::s3 {

XmlWriter::XmlWriter(std::string_view root, bool with_namespace)
    : doc_(std::make_unique<pugi::xml_document>()) {
  auto decl = doc_->append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node node = doc_->append_child(std::string(root).c_str());
  if (with_namespace) {
    node.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  }
  stack_.push_back(node);
}

XmlWriter::~XmlWriter() = default;

XmlWriter& XmlWriter::Add(std::string_view name, std::string_view value) {
  stack_.back().append_child(std::string(name).c_str()).text().set(std::string(value).c_str());
  return *this;
}

XmlWriter& XmlWriter::Begin(std::string_view name) {
  stack_.push_back(stack_.back().append_child(std::string(name).c_str()));
  return *this;
}

XmlWriter& XmlWriter::End() {
  if (stack_.size() > 1) stack_.pop_back();
  return *this;
}

std::string XmlWriter::Finish() {
  std::ostringstream out;
  doc_->save(out, "", pugi::format_raw, pugi::encoding_utf8);
  return out.str();
}

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

namespace {

std::string LocalName(const char* name) {
  std::string_view view(name);
  auto colon = view.find(':');
  return std::string(colon == std::string_view::npos ? view : view.substr(colon + 1));
}

XmlElement Convert(const pugi::xml_node& node) {
  XmlElement element;
  element.name = LocalName(node.name());
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_element) {
      element.children.push_back(Convert(child));
    } else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      element.text += child.value();
    }
  }
  return element;
}

}  // namespace

Result<XmlElement> ParseXml(std::string_view text) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed =
      doc.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_utf8);
  size_t roots = 0;
  for (pugi::xml_node node : doc.children()) {
    if (node.type() == pugi::node_element) ++roots;
  }
  if (!parsed || !doc.document_element() || roots != 1) {
    return tl::unexpected(MakeError("MalformedXML",
                                    "The XML you provided was not well-formed or did not "
                                    "validate against our published schema"));
  }
  return Convert(doc.document_element());
}

}  // namespace strongroom::s3
