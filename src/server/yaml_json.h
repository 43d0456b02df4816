#pragma once
// YAML config files read as JSON values (libyaml's parser, Debian libyaml-dev): mappings become
// objects, sequences arrays, plain scalars numbers / booleans / null where they read as such
// (YAML 1.2 core schema), quoted scalars strings. Anchors, aliases and tags are refused.
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace ag::server {

// `label` names the source in errors ("config.yaml: line 3, column 5: ...").
Result<nlohmann::ordered_json> yaml_to_json(std::string_view text, std::string_view label);

}  // namespace ag::server
