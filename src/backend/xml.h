// The little XML the object stores answer with (S3 / Azure errors and listings): elements found
// by tag, their text with the five predefined entities decoded. Internal to df_backend.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace df::backend {

// The contents of each <tag>...</tag> in `body` (not nested in themselves).
std::vector<std::string_view> XmlElements(std::string_view body, std::string_view tag);
// The text of the first <tag> of `body`, entities decoded; empty when there is none.
std::string XmlText(std::string_view body, std::string_view tag);

}  // namespace df::backend
