#pragma once
// Interaction <-> JSON object with the column names as keys; absent optionals are omitted.
// Used by the spool (one compact line per record) and available to exporters.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>

#include "record/interaction.hpp"

namespace bastion::record {

// `timestamp` is written as format_timestamp() text (millisecond precision).
boost::json::object interaction_to_json(const Interaction& record);

// nullopt when a column is missing or has the wrong type (unknown keys are ignored).
std::optional<Interaction> interaction_from_json(const boost::json::value& value);

}  // namespace bastion::record
